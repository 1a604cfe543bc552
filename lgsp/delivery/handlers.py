"""Handler registry (kind name -> async callable) and the built-in ``http`` handler.

A handler gets a :class:`~lgsp.delivery.claims.Delivery`, delivers it, and returns the receiver's id for
it (or None); it raises :class:`~lgsp.delivery.errors.Retryable` or
:class:`~lgsp.delivery.errors.Permanent` to fail. Adapters add handlers through a factory
``(engine) -> dict[name, handler]`` named by their ``AdapterInfo.delivery_handlers`` (or listed in the
entry-point group ``lgsp.delivery_handlers``), so the core never imports them; the factory reads its own
settings and returns nothing when its link is not configured. A worker only claims kinds it has a
handler for; other kinds wait for a worker that has one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any

import aiohttp
import structlog

from lgsp.delivery.claims import Delivery
from lgsp.delivery.errors import Permanent, Retryable

Handler = Callable[[Delivery], Awaitable[str | None]]
log = structlog.get_logger("lgsp.delivery")

HTTP_KIND = "http"
_RETRY_STATUSES = frozenset({408, 425, 429})


class HandlerRegistry(Mapping[str, Handler]):
    """Name -> handler; closes handlers that hold connections (``aclose``) when the worker stops."""

    def __init__(self, handlers: Mapping[str, Handler] | None = None) -> None:
        self._handlers: dict[str, Handler] = dict(handlers or {})

    def register(self, name: str, handler: Handler) -> None:
        if name in self._handlers:
            raise ValueError(f"a delivery handler named {name!r} is already registered")
        self._handlers[name] = handler

    def __getitem__(self, name: str) -> Handler:
        return self._handlers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._handlers)

    def __len__(self) -> int:
        return len(self._handlers)

    async def aclose(self) -> None:
        for handler in self._handlers.values():
            close = getattr(handler, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()


class HttpHandler:
    """POST the payload to the message's ``destination`` URL.

    Headers: ``X-LGSP-Message-Id`` (the same on every attempt, so the receiver can drop duplicates),
    ``Idempotency-Key`` (the client's key, else the message id), ``X-LGSP-Attempt``. 2xx = delivered
    (``X-Remote-Id`` in the answer is recorded); 408/425/429/5xx and network failures are retried;
    any other answer is permanent (the receiver refused this content). A 3xx is permanent too, not followed:
    the destination is wrong, and the message must not go to a host the receiver names.
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, delivery: Delivery) -> str | None:
        if not delivery.destination:
            raise Permanent("http delivery without a destination URL")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"Content-Type": delivery.content_type, "X-LGSP-Message-Id": delivery.message_id,
                   "Idempotency-Key": delivery.idempotency_key or delivery.message_id,
                   "X-LGSP-Attempt": str(delivery.attempt)}
        if delivery.client_id:
            headers["X-LGSP-Client"] = delivery.client_id
        try:
            # Redirects are not followed: aiohttp did, so a 3xx "delivered" the message to whatever host
            # the receiver named (a 303 even turned the POST into a bodiless GET).
            async with self._session.post(delivery.destination, data=delivery.payload, headers=headers,
                                          allow_redirects=False) as reply:
                text = (await reply.content.read(500)).decode("utf-8", "replace")
                if 200 <= reply.status < 300:
                    return reply.headers.get("X-Remote-Id")
                if 300 <= reply.status < 400:
                    raise Permanent(f"HTTP {reply.status} from {delivery.destination}: it redirects to "
                                    f"{reply.headers.get('Location', '(no Location)')[:500]}; lgsp does not "
                                    "follow redirects: correct the destination, then replay the message")
                detail = f"HTTP {reply.status} from {delivery.destination}: {text}"
                if reply.status >= 500 or reply.status in _RETRY_STATUSES:
                    raise Retryable(detail)
                raise Permanent(detail)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Retryable(f"{delivery.destination} unreachable: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


HandlerFactory = Callable[[Any], Mapping[str, Handler]]


def load_handlers(engine: Any, extra: Mapping[str, Handler] | None = None) -> HandlerRegistry:
    """The built-in handlers, entry-point handlers, each adapter's (``AdapterInfo.delivery_handlers``), then ``extra``.

    An adapter's factory decides from its own settings whether it delivers anything (the dvcqg adapter
    returns nothing unless ``LGSP_DVCQG_*`` is set); one that raises is logged and skipped.
    """
    registry = HandlerRegistry({HTTP_KIND: HttpHandler()})
    for ep in entry_points(group="lgsp.delivery_handlers"):
        try:
            factory: HandlerFactory = ep.load()
            for name, handler in factory(engine).items():
                registry.register(name, handler)
        except Exception:
            log.exception("delivery handler plugin failed to load; its messages wait", plugin=ep.name)
    from lgsp.adapters import discover, load

    for info in discover().values():
        if info.delivery_handlers is None:
            continue
        try:
            factory = load(info.delivery_handlers)
            for name, handler in factory(engine).items():
                registry.register(name, handler)
        except Exception:
            log.exception("an adapter's delivery handlers failed to load; its messages wait", adapter=info.name)
    for name, handler in (extra or {}).items():
        registry.register(name, handler)
    return registry
