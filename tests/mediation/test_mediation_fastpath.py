"""The lxml fast path (lgsp.mediation.fastpath) agrees with zeep on generated inputs over the demo WSDLs.

For every operation of the NGSP WSDL (schemas/) and the round-trip test WSDL, generated JSON bodies (valid
and invalid) must give the same envelope bytes or the same field errors with and without the fast path,
and generated replies (with lexical variants: ``1``/`` true ``, ``+0012.50``, offsets, fractions, comments,
``xsi:nil``) must give the same JSON or the same error.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.ngsp.paths import WSDL_PATH
from lgsp.mediation import MediationError, SoapService, XRoadClient, XRoadHeaders, XRoadService
from lgsp.mediation.fastpath import _builtin_name
from lgsp.mediation.typemodel import FieldModel

DATA = Path(__file__).parent / "data"
WSDLS = {"ngsp": WSDL_PATH, "roundtrip": DATA / "roundtrip.wsdl"}
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
HEADERS = XRoadHeaders(
    XRoadClient.parse("VN/GOV/000.00.12.H10/MOTCUA"),
    XRoadService.parse("VN/GOV/000.00.00.G01/NGSP/TraCuuDoanhNghiep/v1"),
    id="6f1c2e0a-0000-4000-8000-000000000001",
)
PROPERTY = settings(max_examples=150, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_services: dict[tuple[str, bool], SoapService] = {}


def service(name: str, fast: bool) -> SoapService:
    key = (name, fast)
    if key not in _services:
        _services[key] = SoapService(WSDLS[name], fast=fast)
    return _services[key]


def cases() -> list[tuple[str, str]]:
    return [(name, op) for name in WSDLS for op in service(name, True).operation_names()]


def test_every_demo_operation_has_both_fast_paths() -> None:
    """The demo shapes are inside the compiled subset (else the property tests below test zeep twice)."""
    for name in WSDLS:
        svc = service(name, True)
        assert set(svc._encoders) == set(svc.operation_names()) == set(svc._decoders)
        assert not service(name, False)._encoders


# --------------------------------------------------------------------------- JSON bodies

def rare(draw: st.DrawFn, percent: int) -> bool:
    """True about ``percent`` % of the time (a middle band: Hypothesis favours the ends of a range)."""
    return 40 <= draw(st.integers(0, 99)) < 40 + percent


@st.composite
def mostly(draw: st.DrawFn, typical: st.SearchStrategy[Any], odd: st.SearchStrategy[Any], percent: int = 8) -> Any:
    """A draw from ``typical``, or from ``odd`` about ``percent`` % of the time."""
    return draw(odd) if rare(draw, percent) else draw(typical)


_TEXT = st.text(st.sampled_from("0123456789-aăâbcdđeêz ÁỆ\t\x01<&"), max_size=14)


def _valid_string(xsd_type: Any) -> st.SearchStrategy[str]:
    """Strings the field's facets allow (enumeration, pattern, lengths), so most bodies get encoded."""
    enum = list(getattr(xsd_type, "enumeration", None) or [])
    if enum:
        return st.sampled_from(enum)
    patterns = getattr(xsd_type, "patterns", None)
    if patterns is not None and patterns.regexps:
        return st.from_regex(patterns.regexps[0].replace("\\d", "[0-9]"), fullmatch=True)
    low = getattr(xsd_type, "min_length", None) or 0
    high = min(getattr(xsd_type, "max_length", None) or 30, 30)
    return st.text(st.sampled_from("aăâbcdđeêz ÁỆ0-9&<>'\""), min_size=low, max_size=max(low, high))


def _scalar(model: FieldModel) -> st.SearchStrategy[Any]:
    kind = model.kind
    wrong = st.sampled_from([None, True, 7, "x", [], {}, "2024-02-30", "1e3", "abc", "\x01", "9" * 13])
    if kind == "string":
        good = mostly(_valid_string(model.xsd_type), st.one_of(_TEXT, st.text(min_size=99, max_size=101)), 15)
    elif kind == "boolean":
        good = st.booleans()
    elif kind == "integer":
        good = mostly(st.integers(-(2**31), 2**31 - 1),
                      st.one_of(st.just(2**31), st.just(-(2**31) - 1), st.decimals(-100, 100, places=0)))
    elif kind == "decimal":
        numbers = st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False)
        good = mostly(st.one_of(numbers, numbers.map(str), st.integers(0, 10**6)),
                      st.sampled_from(["-1", "0.00001", "12.10", " 7 ", "1E+2"]))
    elif kind == "float":
        good = st.floats(allow_nan=False, allow_infinity=False)
    elif kind == "date":
        good = mostly(st.dates().map(dt.date.isoformat), st.sampled_from(["2024-1-1", "2024-01-01Z"]))
    elif kind == "dateTime":
        good = mostly(
            st.datetimes(timezones=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=7))]))
            .map(lambda d: d.isoformat()),
            st.sampled_from(["2026-11-26T09:30:00Z", "2026-11-26 09:30:00", "2026-11-26T24:00:00"]),
        )
    elif kind == "time":
        good = st.times().map(dt.time.isoformat)
    else:
        good = _TEXT
    return mostly(good, wrong)


def _value(model: FieldModel, depth: int = 0) -> st.SearchStrategy[Any]:
    if model.kind == "complex":
        return _body(model.children, depth + 1)
    return _scalar(model)


def _body(children: list[FieldModel], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for child in children:
        one = _value(child, depth)
        fields[child.name] = st.lists(one, min_size=child.min_occurs, max_size=6) if child.is_list else one
    if depth > 3:
        return st.just({})

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out = {}
        for name, strategy in fields.items():
            if not rare(draw, 3):  # now and then a field is left out, required or not
                out[name] = draw(strategy)
        if rare(draw, 2):
            out["Unknown"] = 1
        return out

    return build()


@pytest.mark.parametrize(("wsdl", "operation"), cases())
@PROPERTY
@given(data=st.data())
def test_build_request_matches_zeep(wsdl: str, operation: str, data: st.DataObject) -> None:
    fast, slow = service(wsdl, True), service(wsdl, False)
    body = data.draw(_body(fast.operation(operation).input_model.children), label="body")
    outcomes = []
    for svc in (fast, slow):
        try:
            outcomes.append(svc.build_request(operation, body, HEADERS))
        except MediationError as exc:
            outcomes.append((type(exc).__name__, exc.detail, exc.problem_extensions()))
    event("encoded" if isinstance(outcomes[1][0], bytes) else "refused")
    assert outcomes[0] == outcomes[1]


# --------------------------------------------------------------------------- replies

def _mostly(typical: st.SearchStrategy[str], *variants: str) -> st.SearchStrategy[str]:
    """Typical lexical forms most of the time, the odd valid-or-not variant now and then."""
    return mostly(typical, st.sampled_from(variants), 12)


_BOOL = _mostly(st.sampled_from(["true", "false"]), "1", "0", " true ", "\ntrue", "TRUE", "")
_DECIMAL = _mostly(
    st.decimals(min_value=0, max_value=10**13, places=2, allow_nan=False).map(lambda d: f"{d:f}"),
    "+0012.50", "007", " 1.5 ", ".5", "5.", "-0.00", "1.234", "1e3", "0", "1500000000.50",
)
_INT = _mostly(st.integers(-(2**31), 2**31 - 1).map(str), "+7", "007", " 12 ", "-0", "1.0", str(2**31))
_DATE = _mostly(st.dates().map(dt.date.isoformat), "2011-04-18+07:00", "2011-04-18Z", " 2011-04-18", "0001-01-01",
                "2011-4-18")
_DATETIME = _mostly(
    st.datetimes(timezones=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=-3, minutes=-30))]))
    .map(lambda d: d.isoformat()),
    "2026-12-07T08:12:08Z", "2026-12-07T08:12:08.123456789+07:00", "2026-12-07T24:00:00", "2026-12-07T08:12:08.5",
    " 2026-12-07T08:12:08Z ", "2026-12-07", "10000-01-01T00:00:00",
)
_TIME = _mostly(st.times().map(dt.time.isoformat), "08:00:00Z", "24:00:00", "08:00:00.1234567")
_LEAF = {"boolean": _BOOL, "decimal": _DECIMAL, "integer": _INT, "date": _DATE, "dateTime": _DATETIME, "time": _TIME}


def _text_for(element: Any) -> st.SearchStrategy[str | None]:
    builtin = _builtin_name(element.type) or "string"
    kind = "integer" if builtin in ("int", "long", "short", "integer") else builtin
    strings = mostly(_valid_string(element.type), _TEXT.filter(lambda t: "\x01" not in t))
    return mostly(_LEAF.get(kind, strings), st.none(), 2)


@st.composite
def _xml(draw: st.DrawFn, element: Any, depth: int = 0) -> etree._Element:
    node = etree.Element(element.name)
    if element.type.is_simple():
        text = draw(_text_for(element))
        if text is not None:
            node.text = text
        return node
    for child in element.type.content.iter_elements():
        high = 3 if child.max_occurs is None or child.max_occurs > 1 else 1
        low = 0 if rare(draw, 2) else child.min_occurs  # sometimes break minOccurs
        for _ in range(draw(st.integers(low, max(low, high))) if depth < 4 else 0):
            node.append(draw(_xml(child, depth + 1)))
    twist = draw(st.integers(0, 99))
    if twist == 50:
        node.insert(0, etree.Comment("c"))
    elif twist == 51:
        node.set(f"{{{XSI}}}type", "x")
    elif twist == 52 and len(node):
        node[-1].set(f"{{{XSI}}}nil", "true")
    return node


@pytest.mark.parametrize(("wsdl", "operation"), cases())
@PROPERTY
@given(data=st.data())
def test_parse_response_matches_zeep(wsdl: str, operation: str, data: st.DataObject) -> None:
    fast, slow = service(wsdl, True), service(wsdl, False)
    element = fast._schema.maps.elements[fast.operation(operation).output_element]
    payload = data.draw(_xml(element), label="payload")
    envelope = etree.Element(f"{{{SOAP_NS}}}Envelope")
    etree.SubElement(envelope, f"{{{SOAP_NS}}}Body").append(payload)
    body = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
    outcomes = []
    for svc in (fast, slow):
        try:
            outcomes.append(svc.parse_response(operation, 200, "text/xml", body))
        except MediationError as exc:
            outcomes.append((type(exc).__name__, exc.detail))
    event("decoded" if isinstance(outcomes[1], dict) else "refused")
    assert outcomes[0] == outcomes[1], body


def test_fast_reply_keeps_types() -> None:
    """A concrete reply through the fast path: decimals as exact strings, lists always arrays."""
    svc = service("roundtrip", True)
    payload = (
        "<t:EchoResponse xmlns:t='urn:test:roundtrip'><t:Day>2026-01-31</t:Day><t:At>2026-01-31T08:00:00+07:00</t:At>"
        "<t:Money>12.1000</t:Money><t:Count>3</t:Count><t:Flag>1</t:Flag>"
        "<t:Item><t:Code>A</t:Code><t:Amount>1500000000.50</t:Amount></t:Item></t:EchoResponse>"
    )
    body = f"<s:Envelope xmlns:s='{SOAP_NS}'><s:Body>{payload}</s:Body></s:Envelope>".encode()
    assert svc.parse_response("Echo", 200, "text/xml", body) == {
        "Day": "2026-01-31", "At": "2026-01-31T08:00:00+07:00", "Money": "12.1000", "Count": 3, "Flag": True,
        "Tag": [], "Item": [{"Code": "A", "Amount": "1500000000.50"}],
    }
    assert Decimal("12.1000") == Decimal(svc.parse_response("Echo", 200, "text/xml", body)["Money"])
