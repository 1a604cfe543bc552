"""SOAP <-> REST mediation, transport-free: the gateway does HTTP; this package does the conversion.

Public API (everything else is private)::

    svc = SoapService.from_wsdl("schemas/wsdl/ngsp/ngsp.wsdl")      # cached per path + mtime
    envelope, headers = svc.build_request("TraCuuDoanhNghiep", {"MaSoThue": "1800123456"}, xroad_headers)
    ... POST envelope with headers (aiohttp, in the gateway) ...
    data = svc.parse_response("TraCuuDoanhNghiep", status, content_type, body)   # or a MediationError
    svc.json_schema("TraCuuDoanhNghiep", "input"); openapi(svc)
    apply_xroad_headers(incoming_envelope, xroad_headers)             # SOAP pass-through

Every error is a :class:`MediationError` with a stable ``kind`` and ``http_status`` for RFC 9457.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lgsp.lazy import lazy_exports

if TYPE_CHECKING:
    from .errors import (
        FieldError,
        MediationError,
        MediationInputError,
        SoapFaultError,
        UnknownOperationError,
        UpstreamFormatError,
        WsdlLoadError,
    )
    from .faults import soap_fault
    from .openapi import openapi
    from .passthrough import apply_xroad_headers, read_passthrough
    from .service import OperationInfo, SoapService
    from .xroad import XRoadClient, XRoadHeaders, XRoadService, read_headers

# Each name loads with its submodule on first use: the gateway imports the light parts (errors, faults,
# X-Road headers) at start, zeep and xmlschema load with the first SOAP service it mediates.
_SUBMODULE = {
    "FieldError": "errors",
    "MediationError": "errors",
    "MediationInputError": "errors",
    "OperationInfo": "service",
    "SoapFaultError": "errors",
    "SoapService": "service",
    "UnknownOperationError": "errors",
    "UpstreamFormatError": "errors",
    "WsdlLoadError": "errors",
    "XRoadClient": "xroad",
    "XRoadHeaders": "xroad",
    "XRoadService": "xroad",
    "apply_xroad_headers": "passthrough",
    "openapi": "openapi",
    "read_headers": "xroad",
    "read_passthrough": "passthrough",
    "soap_fault": "faults",
}


__getattr__ = lazy_exports(__name__, _SUBMODULE, globals())


__all__ = [
    "FieldError",
    "MediationError",
    "MediationInputError",
    "OperationInfo",
    "SoapFaultError",
    "SoapService",
    "UnknownOperationError",
    "UpstreamFormatError",
    "WsdlLoadError",
    "XRoadClient",
    "XRoadHeaders",
    "XRoadService",
    "apply_xroad_headers",
    "openapi",
    "read_headers",
    "read_passthrough",
    "soap_fault",
]
