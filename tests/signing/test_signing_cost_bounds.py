"""The cost a caller or a document can impose on verification is bounded, and the verdict stays right.

No test here measures time: each asserts the verdict and the bound (a refusal naming the limit), on inputs
built so that, without the bound, the work would be large.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from lgsp.testing.servers import serve_in_thread
from signing import TrustStore, Verifier
from signing import http as signing_http
from signing.cli import app as cli_app
from signing.testing import TestPki, edxml_document, sign_xml
from signing.xmlcover import MAX_EXPRESSIONS, MAX_LENGTH, MAX_STEPS, MustCoverError

SOAP = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body Id="b">'
        b"<x>1</x></soap:Body></soap:Envelope>")

#: XPath a token holder could send to burn CPU (or that is simply not a location path).
EXPENSIVE = [
    "//*[count(//*) > 0]",
    "//*[count(//*[count(//*) > 0]) > 0]",
    " | ".join(["//*"] * 200),
    "/*" + "/*" * (MAX_STEPS + 1),
    "/" + "a" * (MAX_LENGTH + 1),
    "count(//*)",
    "//text()",
    "/soap:Envelope//soap:Body",  # '//' only as the first step
    "/x:y",  # unknown prefix
    "/*[last()]",
    "/descendant::*",
]


@pytest.mark.parametrize("xpath", EXPENSIVE)
def test_must_cover_outside_the_safe_subset_is_refused_before_verification(verifier: Verifier,
                                                                          xpath: str) -> None:
    with pytest.raises(MustCoverError) as caught:
        verifier.verify(SOAP, "application/xml", must_cover=[xpath])
    assert "must_cover" in str(caught.value)


def test_too_many_must_cover_paths_are_refused(verifier: Verifier) -> None:
    with pytest.raises(MustCoverError, match=f"at most {MAX_EXPRESSIONS}"):
        verifier.verify(SOAP, "application/xml", must_cover=["/*"] * (MAX_EXPRESSIONS + 1))


@pytest.mark.parametrize("xpath", ["/soap:Envelope/soap:Body", "//soap:Body", "/*/*[1]", "/*/soap:Body"])
def test_simple_paths_still_verify(verifier: Verifier, pki: TestPki, xpath: str) -> None:
    signed = sign_xml(SOAP, pki.good, reference_uri="#b")
    assert verifier.verify(signed, "application/xml", must_cover=[xpath]).passed


@pytest.fixture
def api_url(trust: TrustStore) -> Iterator[str]:
    app = FastAPI()
    app.include_router(signing_http.router)
    saved = dict(signing_http._state)
    signing_http.configure(trust)
    with serve_in_thread(app) as server:
        yield server.url
    signing_http._state.clear()
    signing_http._state.update(saved)


def test_endpoint_answers_422_naming_must_cover(api_url: str, pki: TestPki) -> None:
    signed = sign_xml(SOAP, pki.good, reference_uri="#b")
    response = httpx.post(f"{api_url}/signatures/verify", content=signed, headers={"content-type": "application/xml"},
                          params={"must_cover": "//*[count(//*) > 0]"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/invalid-must-cover") and problem["status"] == 422
    assert problem["errors"][0]["field"] == "must_cover"
    fine = httpx.post(f"{api_url}/signatures/verify", content=signed, headers={"content-type": "application/xml"},
                      params={"must_cover": "/soap:Envelope/soap:Body"})
    assert fine.status_code == 200 and fine.json()["indication"] == "TOTAL_PASSED"


def test_cli_refuses_an_expensive_must_cover_as_a_usage_error(tmp_path: Path, pki: TestPki) -> None:
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    path = tmp_path / "m.xml"
    path.write_bytes(sign_xml(edxml_document(), pki.good))
    result = CliRunner().invoke(cli_app, ["verify", str(path), "--trust", str(tmp_path),
                                          "--must-cover", "//*[count(//*) > 0]"])
    assert result.exit_code == 2
    assert "--must-cover" in result.output and "Traceback" not in result.output
