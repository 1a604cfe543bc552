"""Mediation errors, each with a stable ``kind`` the gateway maps to an RFC 9457 problem type.

The mediation library never speaks HTTP itself, so it cannot build problem documents; instead every
failure carries a kind and the HTTP status the gateway should use. Keeping the kinds here (and only here)
makes them a stable contract between mediation and the gateway's problem renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldError",
    "MediationError",
    "MediationInputError",
    "SoapFaultError",
    "UnknownOperationError",
    "UpstreamFormatError",
    "WsdlLoadError",
]


class MediationError(Exception):
    """Base class: ``kind`` is the problem type slug, ``http_status`` the status the gateway answers with."""

    kind = "mediation-error"
    http_status = 500
    title = "Mediation error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def problem_extensions(self) -> dict[str, Any]:
        """Extra members for the problem document (beyond type/title/status/detail)."""
        return {}


@dataclass(frozen=True)
class FieldError:
    """One invalid JSON field; ``path`` is dotted with list indexes, e.g. ``DoanhNghiep.NganhNghe[0]``."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.path, "message": self.message}  # same key as every lgsp validation problem


class MediationInputError(MediationError):
    """The caller's JSON does not match the operation's input schema (HTTP 422)."""

    kind = "mediation-input-invalid"
    http_status = 422
    title = "Request body does not match the operation's input schema"

    def __init__(self, errors: list[FieldError]) -> None:
        if not errors:
            raise ValueError("MediationInputError needs at least one field error")
        first = errors[0]
        where = first.path or "(body)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{where}: {first.message}{more}")
        self.errors = errors

    @property
    def field(self) -> str:
        """Path of the first invalid field, the one named in ``detail``."""
        return self.errors[0].path

    def problem_extensions(self) -> dict[str, Any]:
        return {"errors": [e.as_dict() for e in self.errors]}


class UnknownOperationError(MediationError):
    """The service's WSDL has no operation by that name (HTTP 404)."""

    kind = "unknown-operation"
    http_status = 404
    title = "Unknown operation"

    def __init__(self, operation: str, known: list[str]) -> None:
        super().__init__(f"operation {operation!r} is not in the WSDL; known operations: {', '.join(known)}")
        self.operation = operation
        self.known = known

    def problem_extensions(self) -> dict[str, Any]:
        return {"operations": self.known}


class SoapFaultError(MediationError):
    """The provider answered with a SOAP Fault (HTTP 502 carrying its code and string)."""

    kind = "soap-fault"
    http_status = 502
    title = "The provider returned a SOAP Fault"

    def __init__(self, code: str, string: str, detail: Any = None, *, actor: str | None = None) -> None:
        super().__init__(f"SOAP Fault {code}: {string}")
        self.code = code
        self.string = string
        self.fault_detail = detail
        self.actor = actor

    def problem_extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"faultcode": self.code, "faultstring": self.string}
        if self.fault_detail is not None:
            ext["faultdetail"] = self.fault_detail
        if self.actor:
            ext["faultactor"] = self.actor
        return ext


class UpstreamFormatError(MediationError):
    """The provider's answer is not a usable SOAP response: HTML page, non-XML, XXE, wrong element (502)."""

    kind = "upstream-bad-response"
    http_status = 502
    title = "The provider returned a response lgsp cannot use"

    def __init__(self, detail: str, *, status: int | None = None, content_type: str | None = None) -> None:
        super().__init__(detail)
        self.upstream_status = status
        self.content_type = content_type

    def problem_extensions(self) -> dict[str, Any]:
        return {"upstreamStatus": self.upstream_status, "upstreamContentType": self.content_type}


class WsdlLoadError(MediationError):
    """A WSDL (or a schema it imports) cannot be loaded safely from local disk (configuration error)."""

    kind = "wsdl-invalid"
    http_status = 500
    title = "The service's WSDL cannot be loaded"
