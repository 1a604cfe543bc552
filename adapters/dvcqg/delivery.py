"""DVCQG dossier events through the outbox: configuration, the store-backed push ledger, the handler.

`delivery_handlers` is this adapter's `AdapterInfo.delivery_handlers` factory: the ``dvcqg.dossier``
handler when ``LGSP_DVCQG_*`` is configured, nothing when it is not, and nothing plus a loud error in
the log when it is half-configured (dossier events then wait in the outbox; everything else is delivered).

Flow: ``POST /dossiers/events`` checks the event offline (:meth:`DossierSyncService.check`) and enqueues
it with ordering key = dossier code (so one dossier's events reach the portal in order); the
``dvcqg.dossier`` handler runs :meth:`DossierSyncService.sync`. The adapter's errors carry one bit,
``retryable``, which maps onto the outbox's Retryable/Permanent.

Configuration (environment): ``LGSP_DVCQG_ADAPTER_URL``, ``…_USERNAME``, ``…_PASSWORD``, ``…_MADONVI`` and
the optional endpoint/code settings of :meth:`DvcqgSettings.from_env`, plus ``LGSP_DVCQG_STATUS_MAPPING``
(path of the local→DVCQG status YAML file).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from lgsp.sdk.delivery import (
    Delivery,
    DvcqgPush,
    Handler,
    OutboxMessage,
    Permanent,
    Retryable,
    now_utc,
    write_transaction,
)

from .client import DvcqgClient, DvcqgSettings
from .errors import DvcqgError
from .status_mapping import StatusMapping
from .sync import DossierSyncService, InMemoryPushLedger

KIND = "dvcqg.dossier"
MAPPING_ENV = "LGSP_DVCQG_STATUS_MAPPING"
log = structlog.get_logger("adapters.dvcqg.delivery")


@dataclass(frozen=True)
class DvcqgConfig:
    settings: DvcqgSettings
    mapping: StatusMapping

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DvcqgConfig | None:
        """None when DVCQG is not configured at all; a clear ValueError when half-configured."""
        env = os.environ if environ is None else environ
        if not env.get("LGSP_DVCQG_ADAPTER_URL") and not env.get(MAPPING_ENV):
            return None
        settings = DvcqgSettings.from_env(env)
        path = env.get(MAPPING_ENV)
        if not path:
            raise ValueError(f"{MAPPING_ENV} must name the local→DVCQG status mapping YAML file")
        return cls(settings, StatusMapping.from_file(path))


class StorePushLedger:
    """:class:`adapters.dvcqg.sync.PushLedger` in the ``dvcqg_pushes`` table: survives restarts, shared by nodes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def was_pushed(self, ma_ho_so: str) -> bool:
        return await asyncio.to_thread(self._was_pushed, ma_ho_so)

    async def record_push(self, ma_ho_so: str) -> None:
        await asyncio.to_thread(self._record_push, ma_ho_so)

    def _was_pushed(self, ma_ho_so: str) -> bool:
        with self.engine.connect() as conn:
            return conn.scalar(select(DvcqgPush.ma_ho_so).where(DvcqgPush.ma_ho_so == ma_ho_so)) is not None

    def _record_push(self, ma_ho_so: str) -> None:
        now = now_utc()
        bump = (update(DvcqgPush).where(DvcqgPush.ma_ho_so == ma_ho_so)
                .values(last_pushed_at=now, pushes=DvcqgPush.pushes + 1))
        try:
            with write_transaction(self.engine) as conn:
                if not conn.execute(bump).rowcount:
                    conn.execute(insert(DvcqgPush).values(ma_ho_so=ma_ho_so, first_pushed_at=now,
                                                          last_pushed_at=now, pushes=1))
        except IntegrityError:  # another node inserted it first
            with write_transaction(self.engine) as conn:
                conn.execute(bump)

    def pushes(self, ma_ho_so: str) -> int:
        """How many times the dossier was pushed (0 = never); for operators and tests."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(DvcqgPush.pushes).where(DvcqgPush.ma_ho_so == ma_ho_so)) or 0)


def later_delivered(engine: Engine, ma_ho_so: str, occurred_at: str) -> str | None:
    """The latest ``occurred_at`` of this dossier's delivered events when it is after ``occurred_at``.

    Events of one dossier are delivered one at a time in the order lgsp accepted them, but two systems
    (or two threads of one) posting at once are accepted in whichever order their transactions commit:
    the event that happened first could reach the portal last and put the dossier back to its older
    status there. Delivered events stay in the outbox (inline JSON payloads), so they tell.
    """
    with engine.connect() as conn:
        payloads = conn.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.kind == KIND, OutboxMessage.ordering_key == ma_ho_so,
            OutboxMessage.state == "delivered", OutboxMessage.payload.is_not(None)))
        latest = ""
        for payload in payloads:
            try:
                moment = json.loads(payload or b"{}").get("occurred_at")
            except (ValueError, AttributeError):
                continue
            if isinstance(moment, str) and moment > latest:  # yyyyMMddHHmmss: text order is time order
                latest = moment
    return latest if latest > occurred_at else None


class DossierHandler:
    """The ``dvcqg.dossier`` outbox handler: one stored event -> one :meth:`DossierSyncService.sync`.

    An event older than one already on the portal is not pushed (it would put the dossier back to an
    earlier status): it becomes a dead letter saying so, which the sender sees on
    ``GET /dossiers/events/{message_id}``.
    """

    def __init__(self, service: DossierSyncService, engine: Engine | None = None) -> None:
        self.service = service
        self.engine = engine

    async def __call__(self, delivery: Delivery) -> str | None:
        try:
            event = json.loads(delivery.payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Permanent(f"stored dossier event is not JSON: {exc}") from None
        moment = event.get("occurred_at") if isinstance(event, dict) else None
        if self.engine is not None and delivery.ordering_key and isinstance(moment, str):
            later = await asyncio.to_thread(later_delivered, self.engine, delivery.ordering_key, moment)
            if later is not None:
                raise Permanent(f"superseded: an event of dossier {delivery.ordering_key} that happened later "
                                f"({later}) is already on the portal; this one ({moment}) would put it back")
        try:
            result = await self.service.sync(event)
        except DvcqgError as exc:
            raise (Retryable if exc.retryable else Permanent)(str(exc)) from None
        log.info("dossier synced", message_id=delivery.message_id, ma_ho_so=result.ma_ho_so,
                 is_updating=result.is_updating, status=int(result.status))
        return result.ma_ho_so

    async def aclose(self) -> None:
        await self.service.client.aclose()


def make_handler(engine: Engine, config: DvcqgConfig) -> DossierHandler:
    service = DossierSyncService(DvcqgClient(config.settings), config.mapping, StorePushLedger(engine))
    return DossierHandler(service, engine)


def handler_from_env(engine: Engine) -> DossierHandler | None:
    config = DvcqgConfig.from_env()
    return None if config is None else make_handler(engine, config)


def make_checker(config: DvcqgConfig) -> DossierSyncService:
    """A service used only for :meth:`DossierSyncService.check` at ingest (offline; never calls the portal)."""
    return DossierSyncService(DvcqgClient(config.settings), config.mapping, InMemoryPushLedger())


def delivery_handlers(engine: Engine) -> dict[str, Handler]:
    """``{KIND: handler}`` from ``LGSP_DVCQG_*``; ``{}`` when DVCQG is not (or only half) configured."""
    if not any(name.startswith("LGSP_DVCQG_") for name in os.environ):
        return {}
    try:
        dossier = handler_from_env(engine)
    except ValueError as exc:  # half-configured: say so loudly, keep delivering everything else
        log.error("DVCQG deliveries disabled: bad LGSP_DVCQG_* settings; dossier events wait", error=str(exc))
        return {}
    return {} if dossier is None else {KIND: dossier}
