"""What the OpenAPI document promises beyond what FastAPI infers: security, problems, raw bodies.

Routers declare their contract where the handler is (``responses=problems(...)``, ``openapi_extra=``),
and :func:`install` adds the shared parts once: the OAuth2 client-credentials scheme with its scopes, the
one ``Problem`` schema (``application/problem+json``, its ``type`` an enum of every kind lgsp answers),
401/403 on every secured operation. ``schemas/openapi/lgsp.json`` is this document, written by
``python -m lgsp.api.contract`` (:mod:`lgsp.api.contract`) and checked by a test, so the published file is
what the server serves.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.security import OAuth2
from pydantic import BaseModel

from lgsp.api import models as api_models
from lgsp.api.models import ProblemDetails
from lgsp.problems import KINDS, PROBLEM_BASE, PROBLEM_CONTENT_TYPE

SCOPES = {
    "gateway": "call services through the gateway, send documents and dossier events (department systems)",
    "admin": "manage the registry, clients, keys and traffic limits (operators)",
    "auditor": "read the audit log and its receipts (auditors)",
}

#: The bearer token of the OAuth2 client-credentials flow; routers ask for a scope with ``Security``.
OAUTH2 = OAuth2(flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth/token",
                                                                               scopes=SCOPES)),
                scheme_name="oauth2", auto_error=False,
                description="OAuth2 client credentials (RFC 6749 §4.4): POST /oauth/token with the client's id "
                            "and secret, then send `Authorization: Bearer <access_token>`. Tokens are ES256 "
                            "JWTs (keys at /.well-known/jwks.json).")

#: Problem kinds the signature verifier answers (signing/ depends on nothing of ours, so it names its own).
SIGNING_KINDS = {"signature-verifier-not-configured": (503, "Signature verification unavailable"),
                 "document-too-large": (413, "Document too large"),
                 "missing-document": (400, "No document"),
                 "invalid-must-cover": (422, "Invalid must_cover")}

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

#: The header of asynchronous sends (documents, dossier events): a resend with the same key is answered
#: with the first message id; the same key with another body is a 409.
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "1–200 visible ASCII characters; makes a resend safe",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"}}

#: What every acknowledged submission carries (the audit entry that recorded it, the message id).
SUBMISSION_HEADERS = {
    "X-LGSP-Message-Id": {"schema": {"type": "string"}, "description": "the message id (also in the body)"},
    "X-LGSP-Audit-Index": {"schema": {"type": "integer"}, "description": "index of the audit entry"},
    "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                            "description": "present when this is the answer to an earlier identical send"},
}


def _all_kinds() -> dict[str, tuple[int, str]]:
    return {**KINDS, **SIGNING_KINDS}


def problem(status: int, *kinds: str, description: str | None = None) -> dict[str, Any]:
    """One ``responses`` entry: a problem+json body whose ``type`` is one of ``kinds`` (all for ``status``)."""
    table = _all_kinds()
    chosen = kinds or tuple(k for k, (s, _) in table.items() if s == status)
    text = description or "; ".join(f"`{k}`: {table[k][1]}" for k in chosen)
    example_kind = chosen[0]
    return {"description": text, "content": {PROBLEM_CONTENT_TYPE: {
        "schema": PROBLEM_REF,
        "example": {"type": PROBLEM_BASE + example_kind, "title": table[example_kind][1], "status": status,
                    "detail": f"(why, in words, for a person: {table[example_kind][1].lower()})"}}}}


def problems(*specs: int | tuple[int, *tuple[str, ...]]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for several problem statuses; a tuple ``(status, kind, ...)`` narrows the kinds."""
    out: dict[int | str, dict[str, Any]] = {}
    for spec in specs:
        status, *kinds = spec if isinstance(spec, tuple) else (spec,)
        out[status] = problem(status, *kinds)
    return out


#: Request-body models named by ``x-lgsp-models`` that are not in :mod:`lgsp.api.models` (an adapter's own).
_BODY_MODELS: dict[str, type[BaseModel]] = {}


def json_body(schema: type[BaseModel], *, required: bool = True,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a handler that reads its body itself (bounded, audited) instead of via a model."""
    _BODY_MODELS[schema.__name__] = schema
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema.__name__}"}}}
    content.update(extra or {})
    return {"requestBody": {"required": required, "content": content}, "x-lgsp-models": [schema.__name__]}


def operation_id(route: APIRoute) -> str:
    """The handler's name (``list_documents``), not FastAPI's path-derived default, so generated clients read well."""
    return route.name


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the generator that adds the shared parts (cached like FastAPI's)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                           summary=app.summary, description=app.description, routes=app.routes,
                           tags=app.openapi_tags, servers=app.servers)
        app.openapi_schema = finish(spec, app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish(spec: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """Add ``Problem``, the models named by ``x-lgsp-models``, token auth, and 401/403 on secured operations."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in problem_schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    problem_schema["title"] = "Problem"
    # the kinds this version answers, listed; a client must still accept a URI it does not know yet
    problem_schema["properties"]["type"] = {
        "anyOf": [{"type": "string", "enum": sorted(PROBLEM_BASE + k for k in _all_kinds())},
                  {"type": "string", "format": "uri"}],
        "examples": [PROBLEM_BASE + "not-found"],
        "description": "One URI per kind of failure (a later version may add kinds):\n" + "\n".join(
            f"- `{PROBLEM_BASE}{k}` ({s}): {t}" for k, (s, t) in sorted(_all_kinds().items()))}
    schemas["Problem"] = problem_schema
    security_schemes = spec["components"].setdefault("securitySchemes", {})
    security_schemes["clientSecretBasic"] = {
        "type": "http", "scheme": "basic",
        "description": "The token endpoint only: client id and secret as HTTP Basic (client_secret_basic)."}
    seen: set[str] = set()
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            if operation["operationId"] in seen:
                raise ValueError(f"two operations are called {operation['operationId']!r}; rename a handler")
            seen.add(operation["operationId"])
            models = operation.pop("x-lgsp-models", [])
            for name in models:
                model = _BODY_MODELS.get(name) or getattr(api_models, name)
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in model_schema.pop("$defs", {}).items():
                    schemas.setdefault(name, sub)
                schemas.setdefault(model.__name__, model_schema)
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("400", problem(400, "bad-request",
                                                    description="`bad-request`: the body cannot be parsed"))
            if "HTTPValidationError" in str(responses.get("422", {})):
                # FastAPI's default 422 says application/json; ours is a problem naming the fields
                responses["422"] = problem(422, "validation-failed")
            if any("oauth2" in requirement for requirement in operation.get("security", [])):
                responses.setdefault("401", problem(401))
                responses.setdefault("403", problem(403, "forbidden"))
            operation["responses"] = dict(sorted(responses.items()))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    spec["components"]["schemas"] = dict(sorted(schemas.items()))
    return spec


def describe_signature_verification(router: APIRouter) -> None:
    """The contract of ``POST /signatures/verify`` (its router lives in ``signing/``, which knows no lgsp).

    Called on the router before it is included; idempotent (what is already declared wins).
    """
    from lgsp.api.models import SignatureVerdict

    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == "/signatures/verify":
            route.responses = {
                200: {"description": "The report, whatever the verdict (a failed signature is a successful "
                                     "verification); `Accept: text/plain` gives the human-readable form",
                      "headers": {"X-Signature-Indication": {"schema": {"type": "string"}},
                                  "X-Signature-Report-Digest": {"schema": {"type": "string"}}},
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignatureVerdict"}},
                                  "text/plain": {"schema": {"type": "string"}}}},
                **problems((400, "missing-document"), 401, 403, (413, "document-too-large"),
                           (422, "invalid-must-cover"), (503, "signature-verifier-not-configured")),
                **route.responses,
            }
            document = {"schema": {"type": "string", "format": "binary"}}
            route.openapi_extra = {
                "security": [{"oauth2": ["gateway"]}],  # a token is needed (LGSP_SIGNATURES_ANONYMOUS_MAX_BYTES)
                "requestBody": {"required": True, "content": {
                    "application/xml": {"schema": {"type": "string"}}, "application/pdf": document,
                    "application/jose": {"schema": {"type": "string"}}, "application/octet-stream": document,
                    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                       "properties": {"file": {"type": "string",
                                                                               "format": "binary"}}}}}},
                "parameters": [{"name": "must_cover", "in": "query", "required": False, "explode": True,
                                "description": "XML only: a simple location path the signature must protect "
                                               "(repeatable; see docs/signatures.md §5)",
                                "schema": {"type": "array", "items": {"type": "string"}}}],
                "x-lgsp-models": [SignatureVerdict.__name__],
                **(route.openapi_extra or {}),
            }
