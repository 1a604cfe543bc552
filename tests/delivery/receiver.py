"""A real receiver for deliveries: records every message it accepted, fails on request.

``fail_rate`` answers that share of calls with 503 *before* accepting (a flaky receiver); ``script``
gives fixed answers for the next calls (e.g. ``[503, 503]`` then success, or ``[400]``).
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Receipt:
    message_id: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    fail_rate: float = 0.0
    script: list[int] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    calls: int = 0
    seed: int = 7
    #: Seconds between recording a message and answering 200: widens the window in which a killed worker
    #: has delivered but not yet recorded it (so the crash test sees real duplicates).
    answer_delay: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self.app = Starlette(routes=[Route("/inbox", self._inbox, methods=["POST"])])

    async def _inbox(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.calls += 1
            status = self.script.pop(0) if self.script else (503 if self._rng.random() < self.fail_rate else 200)
            if status != 200:
                return JSONResponse({"error": "receiver refused (test)"}, status_code=status)
            message_id = request.headers.get("x-lgsp-message-id", "")
            self.receipts.append(Receipt(message_id, body, dict(request.headers)))
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        return JSONResponse({"ok": True}, headers={"X-Remote-Id": f"R-{message_id[:8]}"})

    def received_ids(self) -> list[str]:
        with self._lock:
            return [r.message_id for r in self.receipts]
