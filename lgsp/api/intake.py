"""Reading asynchronous submissions (documents, dossier events): bounded bodies and Idempotency-Key."""

from __future__ import annotations

from fastapi import Request

from lgsp.problems import Problem

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
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem("payload-too-large", f"{what} may be at most {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)
