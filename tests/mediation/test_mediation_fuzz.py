"""Bounded, deterministic fuzz of the JSON <-> SOAP transforms (the round-trip WSDL's Echo operation).

Whatever JSON a caller sends, `build_request` either builds an envelope the XSD accepts or raises
`MediationInputError` (a 422 naming the field): never another exception, never an unbounded envelope.
Whatever bytes a provider answers, `parse_response` returns JSON or raises a `MediationError` (a 502).
Valid payloads survive JSON -> XML -> JSON with their values intact.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from lgsp.mediation import MediationError, MediationInputError, SoapService
from tests.mediation.conftest import DATA, SOAP_NS

FUZZ = settings(derandomize=True, max_examples=80, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
NS = "urn:test:roundtrip"
VALID: dict[str, Any] = {"Day": "2025-01-01", "At": "2025-01-01T10:00:00", "Money": "1.5", "Count": 3,
                         "Flag": True, "Item": [{"Code": "a", "Amount": "1"}]}

# Keys no XML name can be, values no XML text can hold, numbers whose plain form is enormous.
awkward_keys = st.sampled_from(["1abc", "a b", "", "xmlns", "xmlns:x", "a:b", "<", "&amp;", "\x00", "\x7f",
                                "Day ", "item", "Item.Code", "-", "\u00e9\u0301", "\ufffe"]) | st.text(max_size=8)
awkward_numbers = st.sampled_from(["1e999999999", "-1e-999999999", "0e-99999", "1E+400", "1e1000", "-0",
                                   "123456789012345678901234567890", "1.0", "NaN", "Infinity", "1e-4"])
scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
           | st.text(max_size=12) | st.sampled_from(["\x00", "\x0b", "\ud7ff", "\U0010ffff", "a\x1fb"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(awkward_keys, inner, max_size=3), max_leaves=8)


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    """libxml2's view of the WSDL's types (xmlschema refuses decimals of a few hundred digits on its own)."""
    root = etree.parse(str(DATA / "roundtrip.wsdl")).getroot()
    xsd = root.find("{http://schemas.xmlsoap.org/wsdl/}types/{http://www.w3.org/2001/XMLSchema}schema")
    assert xsd is not None
    standalone = etree.fromstring(etree.tostring(xsd))  # keeps the WSDL's namespace declarations (tns:)
    return etree.XMLSchema(standalone)


def _check_built(service: SoapService, schema: etree.XMLSchema, body: str | bytes) -> None:
    started = time.monotonic()
    try:
        envelope, _ = service.build_request("Echo", body)
    except MediationInputError as exc:
        assert exc.http_status == 422
        assert len(exc.detail) < 20_000  # the refusal names the field; it does not echo a written-out number
        return
    finally:
        assert time.monotonic() - started < 5, "one body must not hold the event loop"
    assert len(envelope) < 50 * len(body) + 2_000  # no amplification
    payload = etree.fromstring(envelope).find(f"{{{SOAP_NS}}}Body/{{{NS}}}Echo")
    assert payload is not None
    assert schema.validate(payload), schema.error_log


@FUZZ
@given(extra=st.dictionaries(awkward_keys, json_values, max_size=3),
       replaced=st.sampled_from(sorted(VALID)), value=json_values)
def test_any_json_body_is_an_envelope_or_a_422(roundtrip: SoapService, schema: etree.XMLSchema,
                                               extra: dict[str, Any], replaced: str, value: Any) -> None:
    _check_built(roundtrip, schema, json.dumps({**VALID, **extra}))
    _check_built(roundtrip, schema, json.dumps({**VALID, replaced: value}))


@FUZZ
@given(field=st.sampled_from(["Money", "Count", "Amount"]), number=awkward_numbers, quoted=st.booleans())
def test_numbers_in_any_notation_are_bounded(roundtrip: SoapService, schema: etree.XMLSchema, field: str,
                                             number: str, quoted: bool) -> None:
    literal = json.dumps(number) if quoted else number
    if field == "Amount":
        text = json.dumps(VALID).replace('"Amount": "1"', f'"Amount": {literal}')
    else:
        text = json.dumps({**VALID, field: "__N__"}).replace('"__N__"', literal)
    _check_built(roundtrip, schema, text)


@FUZZ
@given(escape=st.sampled_from(["\\ud800", "\\udfff", "\\ud800\\u0041", "\\u0000", "\\uffff"]),
       where=st.sampled_from(["key", "value"]))
def test_escaped_surrogates_and_controls(roundtrip: SoapService, schema: etree.XMLSchema, escape: str,
                                         where: str) -> None:
    base = json.dumps(VALID)[:-1]
    text = base + (f', "{escape}": 1}}' if where == "key" else f', "Note": "x{escape}"}}')
    _check_built(roundtrip, schema, text)


# Non-empty texts: an empty element comes back as null (absent), zeep's reading which the fast path keeps.
_TEXT = st.characters(blacklist_categories=("Cs", "Cc"))
valid_payloads = st.fixed_dictionaries({
    "Day": st.dates().map(lambda d: d.isoformat()),
    "At": st.datetimes().map(lambda d: d.replace(microsecond=0).isoformat()),
    "Money": st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4).map(str),
    "Count": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "Flag": st.booleans(),
    "Note": st.text(_TEXT, min_size=1, max_size=20),
    "Tag": st.lists(st.text(_TEXT, min_size=1, max_size=5), max_size=3),
    "Item": st.lists(st.fixed_dictionaries({
        "Code": st.text(_TEXT, min_size=1, max_size=5),
        "Amount": st.decimals(min_value=-1000, max_value=1000, places=2).map(str)}), min_size=1, max_size=5),
})


def _echo_reply(envelope: bytes) -> bytes:
    root = etree.fromstring(envelope)
    payload = root.find(f"{{{SOAP_NS}}}Body/{{{NS}}}Echo")
    assert payload is not None
    payload.tag = f"{{{NS}}}EchoResponse"
    reply = etree.Element(f"{{{SOAP_NS}}}Envelope")
    etree.SubElement(reply, f"{{{SOAP_NS}}}Body").append(payload)
    return etree.tostring(reply, xml_declaration=True, encoding="utf-8")


@FUZZ
@given(payload=valid_payloads)
def test_valid_payloads_survive_json_to_xml_to_json(roundtrip: SoapService, payload: dict[str, Any]) -> None:
    envelope, _ = roundtrip.build_request("Echo", json.dumps(payload))
    back = roundtrip.parse_response("Echo", 200, "text/xml", _echo_reply(envelope))
    assert back["Count"] == payload["Count"] and back["Flag"] == payload["Flag"]
    assert Decimal(back["Money"]) == Decimal(payload["Money"])
    assert back["Day"] == payload["Day"]
    assert back["Note"] == payload["Note"] and back.get("Tag", []) == payload["Tag"]
    assert [(i["Code"], Decimal(i["Amount"])) for i in back["Item"]] == [
        (i["Code"], Decimal(i["Amount"])) for i in payload["Item"]]


@FUZZ
@given(payload=valid_payloads, cut=st.integers(min_value=0, max_value=400),
       junk=st.binary(max_size=16), content_type=st.sampled_from(["text/xml", "application/soap+xml", None,
                                                                  "text/html", "application/json"]),
       status=st.sampled_from([200, 500, 302]))
def test_any_provider_reply_is_json_or_a_mediation_error(roundtrip: SoapService, payload: dict[str, Any], cut: int,
                                                         junk: bytes, content_type: str | None,
                                                         status: int) -> None:
    envelope, _ = roundtrip.build_request("Echo", json.dumps(payload))
    reply = _echo_reply(envelope)
    for body in (reply[:cut] + junk + reply[cut:], reply[:cut], junk + reply, reply.replace(b"utf-8", b"latin-1")):
        try:
            result = roundtrip.parse_response("Echo", status, content_type, body)
        except MediationError as exc:
            assert exc.http_status in (502, 504)
        else:
            assert isinstance(result, dict)


def test_the_digit_bound_still_admits_long_plain_numbers(roundtrip: SoapService) -> None:
    """The bound is on the written-out form, so an exact amount of many digits still goes through."""
    amount = "9" * 990 + ".5"  # within lgsp.mediation.typemodel.MAX_NUMBER_DIGITS
    body = json.dumps(VALID).replace('"Amount": "1"', f'"Amount": "{amount}"')
    envelope, _ = roundtrip.build_request("Echo", body)
    assert amount.encode() in envelope


@pytest.mark.parametrize(("field", "literal"), [("Money", '"1e-99999"'), ("Amount", "1e99999"), ("Count", "1e5000")])
def test_numbers_with_huge_exponents_are_refused_by_name(roundtrip: SoapService, field: str, literal: str) -> None:
    """Before the bound: a 100,000-digit refusal or envelope from 8 bytes, and a ValueError (a 500) for the integer;
    "1e-999999999" held the event loop for 38 s and 1 GB, an integer 1e99999999 never finished."""
    if field == "Amount":
        text = json.dumps(VALID).replace('"Amount": "1"', f'"Amount": {literal}')
    else:
        text = json.dumps({**VALID, field: "__N__"}).replace('"__N__"', literal)
    with pytest.raises(MediationInputError) as caught:
        roundtrip.build_request("Echo", text)
    assert "digits written out" in caught.value.detail and len(caught.value.detail) < 200
