"""OpenAPI 3.1 document for a SOAP service as lgsp exposes it over REST.

Department IT gets a REST contract for a SOAP service without reading WSDL: one ``POST`` per operation
taking the input JSON, the output JSON on 200, and the problem documents mediation can produce.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import MediationInputError, SoapFaultError, UnknownOperationError, UpstreamFormatError
from .service import SoapService

__all__ = ["DEFAULT_PREFIX", "openapi"]

DEFAULT_PREFIX = "/services/{agency}/{system}/{service}"
_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _PROBLEM}}}


def openapi(
    service: SoapService,
    *,
    path_prefix: str = DEFAULT_PREFIX,
    server_url: str | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """The OpenAPI document; ``path_prefix`` may be concrete (``/services/000.00.12.H10/NGSP/tracuu``)."""
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{([^}]+)}", path_prefix)
    ]
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
            },
        }
    }
    for name, op in service.operations.items():
        in_ref, out_ref = f"{name}Input", f"{name}Output"
        schemas[in_ref] = _strip_meta(service.json_schema(name, "input"))
        schemas[out_ref] = _strip_meta(service.json_schema(name, "output"))
        post: dict[str, Any] = {
            "operationId": name,
            "summary": op.documentation or name,
            "description": f"Mediated to SOAP operation {name} (SOAPAction {op.soap_action!r}).",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{in_ref}"}}},
            },
            "responses": {
                "200": {
                    "description": "The provider's answer as JSON",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{out_ref}"}}},
                },
                "404": _problem_response(f"{UnknownOperationError.kind}: no such operation"),
                "422": _problem_response(f"{MediationInputError.kind}: the body does not match the input schema"),
                "502": _problem_response(
                    f"{SoapFaultError.kind} (with faultcode/faultstring) or {UpstreamFormatError.kind}"
                ),
            },
        }
        if params:
            post["parameters"] = params
        paths[f"{path_prefix}/{name}"] = {"post": post}
        schema_get: dict[str, Any] = {
            "operationId": f"{name}Schema",
            "summary": f"JSON Schemas of {name}'s input and output",
            "responses": {
                "200": {
                    "description": "{input, output} JSON Schemas",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
        if params:
            schema_get["parameters"] = params
        paths[f"{path_prefix}/{name}/schema"] = {"get": schema_get}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": title or f"{service.name} (SOAP, mediated by lgsp)",
            "version": "1.0.0",
            "description": f"Generated from {service.path.name}; SOAP {service.soap_version}.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc


def _strip_meta(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "$schema"}
