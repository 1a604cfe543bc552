"""Talk to CKAN for the pipeline: ckanapi's RemoteCKAN behind one call seam that counts round-trips
and turns transport/server failures into :class:`PublishFailed` (so a run fails visibly, and the next
one converges)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from ckanapi import RemoteCKAN
from ckanapi.errors import CKANAPIError, NotAuthorized, NotFound, ValidationError

from .errors import PublishFailed

USER_AGENT = "lgsp-opendata/0.1 (+ckanapi)"


@dataclass(frozen=True)
class CkanTarget:
    """Where to publish and as whom (lgsp's publisher user: the only one ckanext-lgsp lets write)."""

    url: str
    token: str

    @classmethod
    def from_tokens_file(cls, path: Path, role: str = "publisher") -> CkanTarget:
        """Read ``var/ckan/tokens.json`` written by scripts/ckan/ensure.sh."""
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(url=data["url"], token=data[role])


class CkanClient:
    """A RemoteCKAN with a round-trip counter (the benchmark reports calls per publish).

    Safe to call from several threads at once (the pipeline uploads a run's files concurrently): each
    thread gets its own RemoteCKAN (a ``requests.Session`` is not meant to be shared), the counter is
    locked."""

    def __init__(self, target: CkanTarget, timeout: float = 120.0) -> None:
        self.target = target
        self.timeout = timeout
        self.calls = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def remote(self) -> RemoteCKAN:
        remote: RemoteCKAN | None = getattr(self._local, "remote", None)
        if remote is None:
            remote = self._local.remote = RemoteCKAN(self.target.url, apikey=self.target.token,
                                                     user_agent=USER_AGENT)
        return remote

    def call(self, action: str, data: dict[str, Any] | None = None,
             files: dict[str, Any] | None = None) -> Any:
        """Call one action; NotFound passes through (callers branch on it), other failures raise
        :class:`PublishFailed` naming the action."""
        with self._lock:
            self.calls += 1
        try:
            return self.remote.call_action(
                action, data or {}, files=files, requests_kwargs={"timeout": self.timeout}
            )
        except NotFound:
            raise
        except ValidationError as exc:
            raise PublishFailed(f"CKAN rejected {action}: {exc.error_dict}", {"action": action,
                                "errors": exc.error_dict}) from exc
        except NotAuthorized as exc:
            raise PublishFailed(f"CKAN refused {action} for this token: {exc}", {"action": action}) from exc
        except (CKANAPIError, requests.RequestException, ValueError) as exc:
            raise PublishFailed(f"CKAN call {action} failed: {str(exc)[:300]}", {"action": action}) from exc

    def show_or_none(self, action: str, ref: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.call(action, {"id": ref})
        except NotFound:
            return None
        return result
