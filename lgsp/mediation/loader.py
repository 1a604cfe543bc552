"""Load a WSDL and the XSDs it imports from local disk only, with zeep's and xmlschema's safe settings.

The gateway must never fetch a schema from the network at call time: a WSDL that imports
``http://...`` could leak where lgsp runs, hang a request, or swap the contract under us. Both XML engines
used by mediation are therefore locked to local files under one directory tree.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import xmlschema
import zeep
from lxml import etree
from zeep.transports import Transport

from lgsp.safexml import UnsafeXmlError, parse_xml

from .errors import WsdlLoadError

__all__ = ["LocalOnlyTransport", "load_xsd", "load_zeep_client", "safe_settings"]

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"


def safe_settings() -> zeep.Settings:
    """zeep settings that refuse DTDs, entities and transitive external fetches (strict parsing)."""
    return zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True, xml_huge_tree=False)


class LocalOnlyTransport(Transport):
    """A zeep transport that can only read files below ``allowed_root``; any URL is refused.

    zeep's ``forbid_external`` already blocks http(s) imports; this is the second lock, and it also stops
    ``file://`` or ``../`` references from reading files outside the WSDL's directory tree.
    """

    def __init__(self, allowed_root: Path) -> None:
        super().__init__(cache=None)
        self.allowed_root = allowed_root.resolve()

    def load(self, url: str) -> bytes:
        if not url:
            raise WsdlLoadError("empty schema location")
        parsed = urlparse(url)
        if parsed.scheme not in ("", "file") and len(parsed.scheme) > 1:  # len 1: a Windows drive letter
            raise WsdlLoadError(f"refusing to fetch {url!r}: WSDLs and schemas are read from local files only")
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else url).resolve()
        if not path.is_relative_to(self.allowed_root):
            raise WsdlLoadError(f"refusing to read {path}: outside the WSDL directory {self.allowed_root}")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise WsdlLoadError(f"cannot read schema file {path}: {exc}") from exc

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise WsdlLoadError("mediation is transport-free: zeep must not perform HTTP requests")

    post = get


def load_zeep_client(path: Path, allowed_root: Path) -> zeep.Client:
    """A zeep client for a local WSDL (used only to build and decode envelopes, never to send)."""
    try:
        return zeep.Client(str(path), transport=LocalOnlyTransport(allowed_root), settings=safe_settings())
    except WsdlLoadError:
        raise
    except Exception as exc:  # zeep raises many types (XMLSyntaxError, Forbidden, LookupError, ...)
        raise WsdlLoadError(f"cannot load WSDL {path}: {type(exc).__name__}: {exc}") from exc


def parse_wsdl_document(path: Path) -> etree._Element:
    """The WSDL's root element, parsed with the hardened parser (DTDs refused)."""
    try:
        return parse_xml(path.read_bytes())
    except (OSError, UnsafeXmlError) as exc:
        raise WsdlLoadError(f"cannot read WSDL {path}: {exc}") from exc


def _standalone(schema: etree._Element) -> etree._Element:
    """A copy of an inline schema carrying every namespace declared on the WSDL around it.

    Inline schemas use prefixes (``tns:``) declared on ``wsdl:definitions``; QNames in attribute values
    are invisible to lxml's copy, so the in-scope declarations are put on the copy explicitly.
    """
    copy = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=dict(schema.nsmap))
    for child in schema:
        copy.append(deepcopy(child))
    return copy


def load_xsd(wsdl_root: etree._Element, path: Path) -> xmlschema.XMLSchema:
    """An xmlschema view of the WSDL's ``types`` (inline schemas and their local imports).

    Used for facet-complete input validation and JSON Schema generation; ``allow='local'`` and
    ``defuse='always'`` keep xmlschema off the network and away from entity tricks.
    """
    schemas = [_standalone(s) for s in wsdl_root.findall(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema")]
    if not schemas:
        raise WsdlLoadError(f"WSDL {path} has no inline xs:schema in wsdl:types")
    try:
        return xmlschema.XMLSchema(
            schemas if len(schemas) > 1 else schemas[0],
            base_url=str(path.parent),
            allow="local",
            defuse="always",
        )
    except Exception as exc:
        raise WsdlLoadError(f"cannot build the XSD of {path}: {type(exc).__name__}: {exc}") from exc


class _LocalResolver(etree.Resolver):
    """Serves the WSDL's inline schemas under virtual names and other schemas from disk below a root."""

    def __init__(self, virtual: dict[str, bytes], allowed_root: Path) -> None:
        super().__init__()
        self.virtual = virtual
        self.allowed_root = allowed_root

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        parsed = urlparse(system_url)
        local = Path(unquote(parsed.path)).resolve() if parsed.scheme in ("", "file") else None
        if local is not None and str(local) in self.virtual:
            return self.resolve_string(self.virtual[str(local)], context, base_url=str(local))
        if local is None or not local.is_relative_to(self.allowed_root):
            raise WsdlLoadError(f"refusing to load schema {system_url!r}: only local files are allowed")
        return self.resolve_filename(str(local), context)


def load_fast_validator(wsdl_root: etree._Element, path: Path, allowed_root: Path) -> etree.XMLSchema | None:
    """A libxml2 validator for the WSDL's types, or None when libxml2 cannot compile them.

    Validating provider replies with xmlschema costs about a millisecond per call; libxml2 does the same
    check in tens of microseconds, so it guards the hot path and xmlschema stays the fallback.
    """
    inline = wsdl_root.findall(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema")
    virtual: dict[str, bytes] = {}
    imports = []
    for index, schema in enumerate(inline):
        name = str((path.parent / f".lgsp-inline-{index}.xsd").resolve())
        virtual[name] = etree.tostring(_standalone(schema))
        imports.append(
            f'<xs:import namespace="{schema.get("targetNamespace", "")}" schemaLocation="{Path(name).name}"/>'
        )
    wrapper = f'<xs:schema xmlns:xs="{XSD_NS}" targetNamespace="urn:lgsp:mediation:wrapper">'
    wrapper += "".join(imports) + "</xs:schema>"
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_LocalResolver(virtual, allowed_root))
    try:
        doc = etree.fromstring(wrapper.encode(), parser, base_url=str(path.parent / ".lgsp-wrapper.xsd"))
        return etree.XMLSchema(doc)
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, WsdlLoadError):
        return None
