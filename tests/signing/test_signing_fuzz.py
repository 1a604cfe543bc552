"""Issue 12 §10: property tests per entry point — any bytes (mostly mutations of valid signed fixtures) in,
a report out: no exception escapes, the report serialises, memory stays bounded.

Deterministic (``derandomize=True``) and bounded (``max_examples``) so each runs in well under 20 s in CI.
"""

from __future__ import annotations

import resource
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing import Report, TrustStore, Verifier
from signing.report import Indication
from signing.testing import TestPki, edxml_document, minimal_pdf, sign_jws, sign_pdf, sign_xml

FUZZ = settings(derandomize=True, max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
MAX_RSS_GROWTH_KB = 400 * 1024  # a malformed input must not make the verifier hoard memory


@pytest.fixture(scope="module")
def shared(trust: TrustStore) -> Iterator[Verifier]:
    """One verifier for all examples: warm caches keep the run short, as on the bus."""
    yield Verifier(trust)


@pytest.fixture(scope="module")
def fixtures(pki: TestPki) -> dict[str, bytes]:
    return {"xml": sign_xml(edxml_document(), pki.good),
            "xades": sign_xml(edxml_document(), pki.good, xades=True),
            "pdf": sign_pdf(minimal_pdf(), pki.good),
            "jws": sign_jws(b'{"hoSo": "H10.1-0001"}', pki.ec).encode()}


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """A few random edits of ``base``: flip, delete, insert or duplicate a span, or truncate."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate"]))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "insert":
            token = draw(st.sampled_from([b"<", b">", b"\x00", b"]", b"[", b"/", b"0", b"=", b".", b"{", b'"', b"&"]))
            data[at:at] = token + draw(st.binary(max_size=8))
        elif kind == "duplicate":
            end = min(len(data), at + draw(st.integers(1, 256)))
            data[at:at] = data[at:end]
        else:
            del data[at:]
    return bytes(data)


@st.composite
def structural(draw: st.DrawFn, base: bytes) -> bytes:
    """Edits that keep the bytes well-formed but break the structure the libraries expect: an unknown
    element after a tag (schema-invalid XAdES, an extra ds:Object), an attribute such as a non-NCName
    ``xml:id``, a /ByteRange with the wrong number of entries."""
    import re

    if base.startswith(b"%PDF"):
        match = re.search(rb"/ByteRange\s*\[[^\]]*\]", base)
        assert match is not None
        entries = draw(st.lists(st.integers(-5, len(base) + 5), min_size=0, max_size=6))
        value = b"/ByteRange [" + b" ".join(b"%d" % n for n in entries) + b"]"
        return base[:match.start()] + value.ljust(len(match.group(0))) + base[match.end():]  # same length if it fits
    ends = [m.end() for m in re.finditer(rb"<[A-Za-z][\w:.-]*", base)]
    at = draw(st.sampled_from(ends))
    if draw(st.booleans()):
        close = base.index(b">", at) + 1
        token = draw(st.sampled_from([b"<xades:Bogus xmlns:xades='http://uri.etsi.org/01903/v1.3.2#'/>",
                                      b"<ds:Object xmlns:ds='http://www.w3.org/2000/09/xmldsig#'>x</ds:Object>",
                                      b"<Extra/>"]))
        return base[:close] + token + base[close:]
    attribute = draw(st.sampled_from([b' xml:id="1 x"', b' xml:id="a"', b' Id="dup"', b' xml:space="bogus"']))
    return base[:at] + attribute + base[at:]


def _check(verifier: Verifier, data: bytes, content_type: str | None = None) -> None:
    report = verifier.verify(data, content_type)
    assert isinstance(report, Report)
    assert report.indication in set(Indication)
    assert len(report.digest()) == 64  # the report serialises (JSON) whatever went wrong
    if report.indication is Indication.TOTAL_FAILED or report.sub_indication is not None:
        assert report.errors or any(s.errors for s in report.signatures) or not report.signatures


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.parametrize("name", ["xml", "xades"])
def test_fuzz_xml(shared: Verifier, fixtures: dict[str, bytes], name: str) -> None:
    start = _rss_kb()

    @FUZZ
    @given(data=st.one_of(mutated(fixtures[name]), structural(fixtures[name]),
                          st.binary(max_size=512).map(lambda b: b"<" + b)))
    def run(data: bytes) -> None:
        _check(shared, data, "application/xml")

    run()
    assert _rss_kb() - start < MAX_RSS_GROWTH_KB


def test_fuzz_pdf(shared: Verifier, fixtures: dict[str, bytes]) -> None:
    start = _rss_kb()

    @FUZZ
    @given(data=st.one_of(mutated(fixtures["pdf"]), structural(fixtures["pdf"]),
                          st.binary(max_size=512).map(lambda b: b"%PDF-1.7\n" + b)))
    def run(data: bytes) -> None:
        _check(shared, data, "application/pdf")

    run()
    assert _rss_kb() - start < MAX_RSS_GROWTH_KB


def test_fuzz_jws(shared: Verifier, fixtures: dict[str, bytes]) -> None:
    start = _rss_kb()

    @FUZZ
    @given(data=st.one_of(mutated(fixtures["jws"]), st.binary(max_size=256),
                          st.text(max_size=200).map(lambda t: t.encode())))
    def run(data: bytes) -> None:
        _check(shared, data, "application/jose")
        _check(shared, data)  # and sniffed

    run()
    assert _rss_kb() - start < MAX_RSS_GROWTH_KB


@pytest.fixture(scope="module")
def api_url(trust: TrustStore) -> Iterator[str]:
    """``POST /signatures/verify`` on a real 127.0.0.1 server, as a partner reaches it."""
    from fastapi import FastAPI

    from lgsp.testing.servers import serve_in_thread
    from signing import http as signing_http

    app = FastAPI()
    app.include_router(signing_http.router)
    saved = dict(signing_http._state)
    signing_http.configure(trust)
    with serve_in_thread(app) as server:
        yield server.url
    signing_http._state.clear()
    signing_http._state.update(saved)


CONTENT_TYPES = [None, "application/xml", "text/xml; charset=utf-8", "application/soap+xml", "application/pdf",
                 "application/jose", "application/jose+json", "application/json", "application/octet-stream",
                 "text/plain", "image/png"]
MUST_COVER = [[], ["/*"], ["/soap:Envelope/soap:Body"], ["///["], ["count(//*)"], ["/x:y"], ["//text()"],
              ["/*", "/*/*[1]"]]


def test_fuzz_http_endpoint(api_url: str, fixtures: dict[str, bytes]) -> None:
    """Raw bodies (not multipart) in, over real HTTP: a 200 report or a problem+json, never a 500."""
    import httpx

    bodies = st.one_of(*(mutated(fixtures[name]) for name in ("xml", "pdf", "jws")),
                       structural(fixtures["xades"]), st.binary(max_size=256))

    with httpx.Client(base_url=api_url, timeout=60) as client:
        @settings(derandomize=True, max_examples=40, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(body=bodies, content_type=st.sampled_from(CONTENT_TYPES), must_cover=st.sampled_from(MUST_COVER),
               text=st.booleans())
        def run(body: bytes, content_type: str | None, must_cover: list[str], text: bool) -> None:
            headers = {"accept": "text/plain" if text else "application/json"}
            if content_type:
                headers["content-type"] = content_type
            response = client.post("/signatures/verify", content=body, headers=headers,
                                   params=[("must_cover", x) for x in must_cover])
            assert response.status_code in {200, 400, 413, 422}, response.text
            if response.status_code != 200:
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.json()["status"] == response.status_code
                return
            indication = response.headers["x-signature-indication"]
            assert indication in {i.value for i in Indication}
            if text:
                assert f"Result:   {indication}" in response.text
            else:
                assert response.json()["indication"] == indication

        run()
