"""``POST /signatures/verify``: the verifier as an HTTP service for department systems and operators.

The body is either the raw signed document (format from ``Content-Type`` or sniffed) or a multipart form
with the document in a ``file`` field (and, for a detached signature, the signed documents in ``detached``
fields, matched by file name); repeatable ``?must_cover=XPATH`` states what an XML signature must
protect (default: the whole document). The answer is always the report (200), whatever the verdict — a
failed signature is a successful verification — with the indication also in ``X-Signature-Indication``.
Problems with the request itself are RFC 9457 ``application/problem+json``. The lead includes
:data:`router` in the app and calls :func:`configure` once at start-up.

Verification is CPU- and memory-heavy, so an embedding app decides who may call it and with how much:
:func:`configure_access` installs a check that runs *before the body is read* and returns the caller's
byte limit (lgsp: a token with the ``gateway`` scope, or a much smaller anonymous limit), and XML is
pre-scanned against :func:`configure_xml_limits` bounds (element count, depth, text size) before any
tree is built, so a hostile 10 MB of empty elements costs a streaming pass, not a gigabyte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from lxml import etree
from starlette.concurrency import run_in_threadpool

from .api import Verifier, sniff
from .jws import KeyLookup
from .policy import Policy
from .trust import TrustStore
from .xmlbounds import DEFAULT_LIMITS, XmlDoctypeError, XmlLimitError, XmlLimits, check_bounds
from .xmlcover import MustCoverError, check_must_cover
from .xmltree import DEFAULT_NAMESPACES

#: ``request -> the caller's byte limit``; raises (the app renders it) when the caller may not verify.
AccessCheck = Callable[[Request], int]

router = APIRouter(tags=["signatures"])
_state: dict[str, Any] = {}
PROBLEM_BASE = "https://lgsp.dev/problems/"  # the same problem types as the rest of lgsp


def configure(trust: TrustStore, policy: Policy | None = None, *, key_lookup: KeyLookup | None = None) -> Verifier:
    """Set the trust store and policy the endpoint uses; returns the verifier (its caches live as long)."""
    verifier = Verifier(trust, policy, key_lookup=key_lookup)
    _state.clear()  # standalone use: anyone may verify, default XML bounds
    _state["verifier"] = verifier
    return verifier


def configure_verifier(verifier: Verifier) -> None:
    """Share an existing verifier (e.g. the gateway's) so both use one set of caches."""
    _state["verifier"] = verifier


def configure_access(check: AccessCheck | None) -> None:
    """Who may verify, and up to how many bytes (None: anyone, up to the policy's document limit)."""
    _state["access"] = check


def configure_xml_limits(limits: XmlLimits | None) -> None:
    """Bounds for XML documents sent to the endpoint (None: :data:`signing.xmlbounds.DEFAULT_LIMITS`)."""
    _state["xml_limits"] = limits


def _problem(status: int, kind: str, title: str, detail: str, *, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail}
    if field is not None:  # the request field at fault, as the rest of lgsp names it (errors[].field)
        body["errors"] = [{"field": field, "message": detail}]
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class _BodyTooLarge(Exception):
    """The request body grew past its limit while it was being read."""


#: Room for the multipart framing (boundaries, part headers) on top of the documents' own bytes.
MULTIPART_OVERHEAD = 64 * 1024
#: Parts a verification form may hold: the document and its detached documents, not a thousand uploads.
MAX_FORM_PARTS = 64


def _bounded(request: Request, limit: int) -> Request:
    """The same request, whose body reading fails with :class:`_BodyTooLarge` past ``limit`` bytes.

    Why: ``request.form()`` spools every file part to disk before anyone can look at its size, so a chunked
    multipart upload (no Content-Length) of gigabytes would fill the disk before the 413. Counting at the
    ASGI ``receive`` level stops it at the first chunk past the limit, whatever the framing.
    """
    received = 0

    async def receive() -> Any:
        nonlocal received
        message = await request.receive()
        if message.get("type") == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge
        return message

    return Request(request.scope, receive)


async def _read_form(request: Request, limit: int) -> tuple[bytes, str | None, dict[str, bytes]] | Response:
    """The ``file`` part, its content type and the ``detached`` parts, or the problem with the form.

    The whole body (document, detached documents and framing) is held to ``limit`` plus
    :data:`MULTIPART_OVERHEAD`; the documents together to ``limit``.
    """
    too_large = _problem(413, "document-too-large", "Document too large", f"the limit is {limit} bytes")
    try:
        form = await _bounded(request, limit + MULTIPART_OVERHEAD).form(
            max_files=MAX_FORM_PARTS, max_fields=MAX_FORM_PARTS)
    except _BodyTooLarge:
        return too_large
    except Exception as exc:  # a malformed multipart body is the caller's problem, not a 500
        return _problem(400, "malformed-request", "Malformed multipart body", str(exc) or type(exc).__name__)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return _problem(400, "missing-document", "No document",
                            "multipart body needs the signed document in a 'file' field")
        data = await upload.read()
        detached: dict[str, bytes] = {}
        for index, item in enumerate(form.getlist("detached"), 1):  # documents a detached signature refers to
            if isinstance(item, str):
                continue
            detached[item.filename or f"detached-{index}"] = await item.read()
        if len(data) + sum(map(len, detached.values())) > limit:
            return too_large
        return data, upload.content_type, detached
    finally:
        await form.close()  # the spooled temporary files go now, not whenever the collector runs


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it grows past ``limit`` (a chunked upload has no length to check)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/signatures/verify", summary="Verify the signatures of an XML, PDF or JWS document")
async def verify_signatures(request: Request) -> Response:
    verifier: Verifier | None = _state.get("verifier")
    access: AccessCheck | None = _state.get("access")
    limit = verifier.policy.max_document_bytes if verifier is not None else DEFAULT_LIMITS.max_bytes
    if access is not None:
        limit = min(limit, access(request))  # before the body is read: refused callers cost nothing
    if verifier is None:
        return _problem(503, "signature-verifier-not-configured", "Signature verification unavailable",
                        "no trust store is configured for the verifier")
    must_cover = request.query_params.getlist("must_cover") or None  # XML: paths that must be signed
    if must_cover is not None:  # before the body is read: an expensive or malformed path costs nothing
        try:
            check_must_cover(must_cover, DEFAULT_NAMESPACES)
        except MustCoverError as exc:
            return _problem(422, "invalid-must-cover", "Invalid must_cover", str(exc), field="must_cover")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return _problem(413, "document-too-large", "Document too large", f"the limit is {limit} bytes")
    content_type = request.headers.get("content-type")
    detached: dict[str, bytes] = {}
    if content_type and content_type.lower().startswith("multipart/form-data"):
        parts = await _read_form(request, limit)
        if isinstance(parts, Response):
            return parts
        data, content_type, detached = parts
    else:
        body = await _read_limited(request, limit)
        if body is None:
            return _problem(413, "document-too-large", "Document too large", f"the limit is {limit} bytes")
        data = body
    if not data:
        return _problem(400, "missing-document", "No document", "the request body is empty")
    if len(data) > limit:
        return _problem(413, "document-too-large", "Document too large", f"the limit is {limit} bytes")
    if sniff(data, content_type) == "xml":
        bounds: XmlLimits = _state.get("xml_limits") or DEFAULT_LIMITS
        try:
            await run_in_threadpool(check_bounds, data, bounds.capped(limit))
        except XmlLimitError as exc:
            return _problem(413, "document-too-large", "Document too large", str(exc))
        except (XmlDoctypeError, etree.XMLSyntaxError):
            pass  # the verifier reports it as a FORMAT_FAILURE in the report
    report = await run_in_threadpool(lambda: verifier.verify(data, content_type, must_cover=must_cover,
                                                             detached=detached or None))
    headers = {"X-Signature-Indication": report.indication.value, "X-Signature-Report-Digest": report.digest()}
    if "text/plain" in request.headers.get("accept", ""):
        return PlainTextResponse(report.render_text(), headers=headers)
    return JSONResponse(report.to_dict(), headers=headers)
