"""``SoapService``: one WSDL, its operations, and transport-free JSON <-> SOAP conversion.

The gateway owns HTTP (aiohttp) and retries; this class only turns a JSON body into envelope bytes plus
the HTTP headers to send, and a provider's status/content-type/bytes back into JSON or a typed error.
Services are built once per (WSDL path, mtime) and cached, because building zeep and xmlschema models
costs tens of milliseconds, far more than a mediated call.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import zeep
from lxml import etree
from zeep.wsdl.bindings.soap import Soap12Binding, SoapBinding

from lgsp import jsontext

from . import fastpath
from .errors import (
    FieldError,
    MediationInputError,
    SoapFaultError,
    UnknownOperationError,
    UpstreamFormatError,
    WsdlLoadError,
)
from .jsonschemas import Direction, model_schema
from .jsonvalues import to_json
from .loader import WSDL_NS, load_fast_validator, load_xsd, load_zeep_client, parse_wsdl_document
from .soapenv import SOAP11_NS, SOAP12_NS, fault_parts, read_envelope
from .typemodel import FieldModel, build_model, coerce_input
from .xroad import XRoadHeaders

__all__ = ["OperationInfo", "SoapService"]



@dataclass(frozen=True)
class OperationInfo:
    """What the gateway and docs need to know about one operation."""

    name: str
    soap_action: str
    input_element: str  # Clark notation {ns}local
    output_element: str
    input_model: FieldModel
    output_model: FieldModel
    documentation: str | None
    zeep_output: Any  # zeep xsd Element used to decode the response body


@dataclass(frozen=True)
class _CacheKey:
    path: Path
    fingerprint: tuple[tuple[str, int, int], ...]  # (name, mtime_ns, size) of the WSDL and sibling XSDs
    allowed_root: Path


_cache: dict[_CacheKey, SoapService] = {}
_recent: dict[tuple[str, str], tuple[float, SoapService]] = {}  # (path, root) -> (checked at, service)
_cache_lock = threading.Lock()


def _decode_json(body: Any) -> Any:
    if isinstance(body, bytes | bytearray | str):
        try:
            # parse_float=Decimal: "12.10" stays 12.10, never 12.1 or 12.0999999
            return jsontext.loads(body, parse_float=Decimal)
        except jsontext.JsonTextError as exc:
            raise MediationInputError([FieldError("", f"the body is not valid JSON: {exc}")]) from exc
    return body


class SoapService:
    """A SOAP service described by a local WSDL (document/literal, SOAP 1.1 or 1.2)."""

    def __init__(
        self,
        path: Path,
        *,
        allowed_root: Path | None = None,
        port: str | None = None,
        strict_responses: bool = True,
        fast: bool = True,
    ) -> None:
        self.path = path.resolve()
        self.strict_responses = strict_responses
        self.allowed_root = (allowed_root or self.path.parent).resolve()
        if not self.path.is_relative_to(self.allowed_root):
            raise WsdlLoadError(f"WSDL {self.path} is outside its allowed directory {self.allowed_root}")
        wsdl_root = parse_wsdl_document(self.path)
        self._client = load_zeep_client(self.path, self.allowed_root)
        self._schema = load_xsd(wsdl_root, self.path)
        self._fast = load_fast_validator(wsdl_root, self.path, self.allowed_root)
        self._fast_lock = threading.Lock()
        self.name, self._binding, self._proxy, self.soap_version = self._pick_binding(port)
        docs = self._documentation(wsdl_root)
        self.operations: dict[str, OperationInfo] = {}
        # lxml serializers per operation (lgsp.mediation.fastpath); only where libxml2 can check what they
        # build and read, since they leave the XSD facets to it. ``fast=False`` keeps zeep for everything.
        self._encoders: dict[str, fastpath.Encoder] = {}
        self._decoders: dict[str, fastpath.Decoder] = {}
        for name, op in self._binding._operations.items():
            self.operations[name] = self._describe(name, op, docs.get(name))
            if fast and self._fast is not None:
                info = self.operations[name]
                encoder = fastpath.compile_encoder(self._schema.maps.elements[info.input_element])
                decoder = fastpath.compile_decoder(self._schema.maps.elements[info.output_element])
                if encoder is not None:
                    self._encoders[name] = encoder
                if decoder is not None:
                    self._decoders[name] = decoder

    # ------------------------------------------------------------------ construction

    #: how long a cached service is trusted before the files are stat'ed again (tests set 0)
    recheck_seconds: float = 1.0

    @classmethod
    def from_wsdl(cls, path: str | Path, *, allowed_root: Path | None = None) -> SoapService:
        """The cached service for ``path``; rebuilt when the WSDL or an XSD beside it changes (mtime/size).

        Files are re-checked at most every ``recheck_seconds``, so calling this on every request costs a
        dictionary lookup; an edited WSDL is picked up within a second without restarting lgsp.
        """
        fast_key = (str(path), str(allowed_root))
        now = time.monotonic()
        hit = _recent.get(fast_key)
        if hit is not None and now - hit[0] < cls.recheck_seconds:
            return hit[1]
        resolved = Path(path).resolve()
        try:
            stat = resolved.stat()
            siblings = [
                (entry.name, entry.stat().st_mtime_ns, entry.stat().st_size)
                for entry in os.scandir(resolved.parent)
                if entry.name.endswith(".xsd") and entry.is_file()
            ]
        except OSError as exc:
            raise WsdlLoadError(f"cannot read WSDL {resolved}: {exc}") from exc
        root = (allowed_root or resolved.parent).resolve()
        fingerprint = ((resolved.name, stat.st_mtime_ns, stat.st_size), *sorted(siblings))
        key = _CacheKey(resolved, fingerprint, root)
        with _cache_lock:
            service = _cache.get(key)
            if service is None:
                for old in [k for k in _cache if k.path == resolved]:
                    del _cache[old]
                service = cls(resolved, allowed_root=root)
                _cache[key] = service
            _recent[fast_key] = (time.monotonic(), service)
            return service

    @staticmethod
    def clear_cache() -> None:
        with _cache_lock:
            _cache.clear()
            _recent.clear()

    def _pick_binding(self, port: str | None) -> tuple[str, Any, Any, str]:
        for service in self._client.wsdl.services.values():
            for port_name, port_obj in service.ports.items():
                binding = port_obj.binding
                if port is not None and port_name != port:
                    continue
                if isinstance(binding, SoapBinding):
                    proxy = self._client.bind(service.name, port_name)
                    version = "1.2" if isinstance(binding, Soap12Binding) else "1.1"
                    return service.name, binding, proxy, version
        raise WsdlLoadError(f"WSDL {self.path} has no SOAP port" + (f" named {port!r}" if port else ""))

    @staticmethod
    def _documentation(wsdl_root: etree._Element) -> dict[str, str]:
        docs: dict[str, str] = {}
        for op in wsdl_root.iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation"):
            text = op.findtext(f"{{{WSDL_NS}}}documentation")
            if text and op.get("name"):
                docs[op.get("name", "")] = " ".join(text.split())
        return docs

    def _describe(self, name: str, op: Any, documentation: str | None) -> OperationInfo:
        if getattr(op, "style", "document") != "document":
            raise WsdlLoadError(f"operation {name!r} is rpc-style; mediation supports document/literal only")
        in_body, out_body = op.input.body, op.output.body
        if in_body is None or out_body is None:
            raise WsdlLoadError(f"operation {name!r} lacks a document/literal input or output element")
        in_xsd = self._schema.maps.elements.get(in_body.qname.text)
        out_xsd = self._schema.maps.elements.get(out_body.qname.text)
        if in_xsd is None or out_xsd is None:
            raise WsdlLoadError(f"operation {name!r}: body element not found in the WSDL's schemas")
        return OperationInfo(
            name=name,
            soap_action=op.soapaction or "",
            input_element=in_body.qname.text,
            output_element=out_body.qname.text,
            input_model=build_model(in_xsd),
            output_model=build_model(out_xsd),
            documentation=documentation,
            zeep_output=out_body,
        )

    # ------------------------------------------------------------------ public API

    def operation_names(self) -> list[str]:
        return list(self.operations)

    def operation(self, name: str) -> OperationInfo:
        """The operation called ``name`` or :class:`UnknownOperationError` (-> 404)."""
        try:
            return self.operations[name]
        except KeyError:
            raise UnknownOperationError(name, self.operation_names()) from None

    def json_schema(self, operation: str, direction: Direction) -> dict[str, Any]:
        """JSON Schema of the operation's ``input`` or ``output`` body."""
        if direction not in ("input", "output"):
            raise ValueError(f"direction must be 'input' or 'output', not {direction!r}")
        op = self.operation(operation)
        model = op.input_model if direction == "input" else op.output_model
        return model_schema(model, direction, title=f"{self.name}.{operation} {direction}")

    def schemas(self, operation: str) -> dict[str, Any]:
        """``{"operation", "input", "output"}``: the body of ``GET .../{operation}/schema``."""
        return {
            "operation": operation,
            "input": self.json_schema(operation, "input"),
            "output": self.json_schema(operation, "output"),
        }

    def build_request(
        self,
        operation: str,
        json_body: Any,
        soap_headers: XRoadHeaders | Sequence[etree._Element] | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """Envelope bytes and HTTP headers for ``operation`` called with ``json_body``.

        ``json_body`` is raw JSON (bytes/str, decoded with exact decimals) or an already-decoded mapping.
        Raises :class:`MediationInputError` naming every invalid field, :class:`UnknownOperationError`.
        """
        op = self.operation(operation)
        data = _decode_json(json_body)
        encoder = self._encoders.get(operation)
        if encoder is not None:
            built = self._build_fast(op, encoder, data, soap_headers)
            if built is not None:
                return built, self._http_headers(op)
        kwargs, errors = coerce_input(op.input_model, data)
        if errors:
            raise MediationInputError(errors)
        if isinstance(soap_headers, XRoadHeaders):
            header_elements: list[etree._Element] | None = soap_headers.elements()
        else:
            header_elements = list(soap_headers) if soap_headers else None
        try:
            envelope = self._client.create_message(self._proxy, operation, _soapheaders=header_elements, **kwargs)
        except (TypeError, ValueError, zeep.exceptions.Error) as exc:
            # Our own validation runs first, so this is a shape our model does not cover (e.g. xs:choice).
            raise MediationInputError([FieldError("", f"cannot encode the request: {exc}")]) from exc
        return etree.tostring(envelope, xml_declaration=True, encoding="utf-8"), self._http_headers(op)

    def _build_fast(
        self,
        op: OperationInfo,
        encoder: fastpath.Encoder,
        data: Any,
        soap_headers: XRoadHeaders | Sequence[etree._Element] | None,
    ) -> bytes | None:
        """The envelope from the lxml encoder when the body passes libxml2's XSD check, else None.

        None sends the call down the zeep path, which coerces again with xmlschema's facet checks and so
        names every invalid field (or encodes what libxml2 alone refused, as before this path existed).
        """
        kwargs, errors = coerce_input(op.input_model, data, facets=False)
        if errors:
            return None
        if isinstance(soap_headers, XRoadHeaders):
            header_elements: list[etree._Element] | None = soap_headers.elements()
        else:  # the caller's elements are copied, as zeep copies them, so theirs stay where they are
            header_elements = [deepcopy(el) for el in soap_headers] if soap_headers else None
        soap_ns = SOAP12_NS if self.soap_version == "1.2" else SOAP11_NS
        try:
            envelope, body = fastpath.envelope(soap_ns, encoder, kwargs, header_elements)
        except (TypeError, ValueError):
            return None  # e.g. a control character lxml refuses: zeep's path reports it
        assert self._fast is not None
        with self._fast_lock:
            if not self._fast.validate(body):
                return None
        return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

    def _http_headers(self, op: OperationInfo) -> dict[str, str]:
        if self.soap_version == "1.2":
            return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{op.soap_action}"'}
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{op.soap_action}"'}

    def parse_response(self, operation: str, status: int, content_type: str | None, body: bytes) -> dict[str, Any]:
        """The JSON form of a provider's reply, or a typed error (fault, bad/unsafe/HTML response)."""
        op = self.operation(operation)
        envelope = read_envelope(status, content_type, body)
        soap_ns = etree.QName(envelope).namespace or ""
        body_el = envelope.find(f"{{{soap_ns}}}Body")
        if body_el is None:
            raise UpstreamFormatError("SOAP envelope without a Body", status=status, content_type=content_type)
        payload = next((c for c in body_el if isinstance(c.tag, str)), None)
        if payload is not None and payload.tag == f"{{{soap_ns}}}Fault":
            code, string, detail, actor = fault_parts(payload, soap_ns)
            raise SoapFaultError(code or "(no faultcode)", string or "(no faultstring)", detail, actor=actor)
        if not 200 <= status < 300:
            raise UpstreamFormatError(
                f"provider answered HTTP {status} with a SOAP body but no Fault",
                status=status,
                content_type=content_type,
            )
        if payload is None or payload.tag != op.output_element:
            got = payload.tag if payload is not None else "an empty Body"
            raise UpstreamFormatError(
                f"expected {op.output_element} in the SOAP Body, got {got}",
                status=status,
                content_type=content_type,
            )
        if self.strict_responses:
            # zeep logs and passes through values it cannot convert (a bad date stays a string), so the
            # reply is checked against the XSD first: JSON callers get the types the schema promises or a 502.
            problem = self._response_problem(payload)
            if problem is not None:
                raise UpstreamFormatError(
                    f"response does not match the WSDL: {problem}", status=status, content_type=content_type
                )
            decoder = self._decoders.get(operation)
            if decoder is not None:  # only after libxml2 validated the reply (encoders exist only then)
                try:
                    return decoder.decode(payload)
                except fastpath.Fallback:
                    pass
        try:
            value = op.zeep_output.parse(payload, self._client.wsdl.types)
        except Exception as exc:  # zeep/isodate raise assorted errors for values that break the XSD
            raise UpstreamFormatError(
                f"response does not match the WSDL: {type(exc).__name__}: {exc}",
                status=status,
                content_type=content_type,
            ) from exc
        result = to_json(value)
        if not isinstance(result, dict):
            return {op.output_model.name: result}
        return result

    # ------------------------------------------------------------------ helpers

    def _response_problem(self, payload: etree._Element) -> str | None:
        """Why ``payload`` breaks the XSD, or None; libxml2 when it compiled the types, else xmlschema."""
        if self._fast is not None:
            with self._fast_lock:  # an lxml validator and its error log are not shared across threads
                if self._fast.validate(payload):
                    return None
                error = self._fast.error_log.last_error
                return error.message if error is not None else "schema validation failed"
        problem = next(iter(self._schema.iter_errors(payload)), None)
        return None if problem is None else f"at {problem.path}: {problem.reason}"

    def __repr__(self) -> str:
        return f"SoapService({self.name!r}, soap {self.soap_version}, operations={self.operation_names()})"
