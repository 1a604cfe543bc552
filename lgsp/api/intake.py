"""Asynchronous submissions (documents, dossier events): bounded bodies, Idempotency-Key, their audit entries."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from lgsp.api.deps import runtime_of
from lgsp.audit.writer import write_batch
from lgsp.auth.tokens import ClientIdentity
from lgsp.problems import PROBLEM_CONTENT_TYPE, Problem

MAX_KEY_LENGTH = 200


def idempotency_key(request: Request) -> str | None:
    """The client's `Idempotency-Key` (1-200 visible ASCII characters), or None when absent."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all("!" <= ch <= "~" for ch in key):
        raise Problem("bad-request", f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} visible ASCII characters",
                      errors=[{"field": "Idempotency-Key", "message": "invalid"}])
    return key


async def read_limited(request: Request, limit: int, what: str) -> bytes:
    """The whole body, refusing (413) as soon as it is known to exceed ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise Problem("payload-too-large", f"{what} may be at most {limit} bytes", limit=limit)
    # BytesIO, not a list of chunks joined at the end: the chunks are freed as they arrive and
    # getvalue() hands over the buffer without a copy, so a 67 MB body is held once, not twice
    buffer = io.BytesIO()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem("payload-too-large", f"{what} may be at most {limit} bytes", limit=limit)
        buffer.write(chunk)
    return buffer.getvalue()


class Submission:
    """The facts one submission's audit entry needs, collected while the request is handled.

    Accepted submissions are audited in the same transaction that queues them (see `lgsp.delivery`);
    refused ones are audited by :func:`refuse`, so a denied document or event leaves a trace too.
    """

    def __init__(self, request: Request, caller: ClientIdentity, method: str, path: str) -> None:
        self.received_at = datetime.now(UTC)
        self.started = time.perf_counter()
        self.caller = caller
        self.method = method
        self.path = path
        self.correlation_id = request.headers.get("x-correlation-id") or request.headers.get("x-lgsp-message-id")
        self.user_id = request.headers.get("x-lgsp-user-id")
        self.request_sha256: str | None = None
        self.extra: dict[str, Any] = {}

    def entry(self, message_id: str, status: int, response: bytes, problem: Problem | None = None) -> dict[str, Any]:
        return {
            "time": self.received_at, "message_id": message_id, "correlation_id": self.correlation_id,
            "client": self.caller.principal, "service": None, "method": self.method, "path": self.path,
            "user_id": self.user_id, "status": status,
            "latency_us": int((time.perf_counter() - self.started) * 1_000_000),
            "request_sha256": self.request_sha256, "response_sha256": hashlib.sha256(response).hexdigest(),
            "problem_type": problem.type if problem else None, "extra": self.extra,
        }


async def refuse(request: Request, submission: Submission, problem: Problem) -> Response:
    """Audit the refusal (nothing was queued), then answer with exactly the audited problem bytes."""
    message_id = str(uuid.uuid4())
    body = problem.body(submission.path)
    entry = submission.entry(message_id, problem.status, body, problem)
    index = (await run_in_threadpool(write_batch, runtime_of(request).engine, [entry]))[0]
    headers = problem.headers | {"X-LGSP-Message-Id": message_id, "X-LGSP-Audit-Index": str(index)}
    return Response(body, status_code=problem.status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)
