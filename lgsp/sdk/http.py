"""What an adapter's API router (`AdapterInfo.routers`) uses from lgsp's HTTP layer.

A router authenticates its caller with `caller_with(scope)` (a FastAPI dependency giving the caller's
`ClientIdentity`), answers failures by raising `Problem` (rendered as problem+json), describes its
contract with `problems`/`json_body`/`IDEMPOTENCY_KEY`/`SUBMISSION_HEADERS` so the published OpenAPI
document stays complete, and handles an asynchronous submission with the intake helpers: a bounded body
(`read_limited`), the client's `idempotency_key`, and a `Submission` whose refusal is audited by `refuse`.
`engine_of` is the store of the gateway that serves the request.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine

from lgsp.api.deps import caller_with, runtime_of
from lgsp.api.intake import Submission, idempotency_key, read_limited, refuse
from lgsp.api.openapi import IDEMPOTENCY_KEY, SUBMISSION_HEADERS, json_body, problems
from lgsp.auth.tokens import ClientIdentity
from lgsp.problems import Problem

__all__ = [
    "IDEMPOTENCY_KEY", "SUBMISSION_HEADERS", "ClientIdentity", "Problem", "Submission", "caller_with",
    "engine_of", "idempotency_key", "json_body", "problems", "read_limited", "refuse",
]


def engine_of(request: Request) -> Engine:
    """The gateway's store (an adapter never sees the whole runtime: it may change shape)."""
    return runtime_of(request).engine
