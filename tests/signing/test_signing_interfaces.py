"""The entry points: format sniffing, ``lgsp verify`` (CLI) and ``POST /signatures/verify`` (HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from lgsp.testing.servers import serve_in_thread
from signing import TrustStore, sniff
from signing import http as signing_http
from signing.cli import app as cli_app
from signing.testing import TestPki, edxml_document, minimal_pdf, sign_jws, sign_pdf, sign_xml


@pytest.mark.parametrize(("data", "content_type", "kind"), [
    (b"%PDF-1.7\n...", None, "pdf"),
    (b"  <?xml version='1.0'?><a/>", None, "xml"),
    (b"eyJhbGciOiJFUzI1NiJ9.e30.sig", None, "jws"),
    (b'{"payload": "e30", "signatures": []}', None, "jws"),
    (b"anything", "application/pdf", "pdf"),
    (b"anything", "application/soap+xml; charset=utf-8", "xml"),
    (b"\x89PNG", None, "unknown"),
])
def test_sniff(data: bytes, content_type: str | None, kind: str) -> None:
    assert sniff(data, content_type) == kind


@pytest.fixture(scope="module")
def trust_dir(tmp_path_factory: pytest.TempPathFactory, pki: TestPki) -> Path:
    folder = tmp_path_factory.mktemp("trust")
    (folder / "root.pem").write_bytes(pki.root_pem)
    return folder


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["verify", *args])
    return result.exit_code, result.output


def test_cli_exit_codes_follow_the_indication(tmp_path: Path, trust_dir: Path, pki: TestPki) -> None:
    good = tmp_path / "good.edxml"
    good.write_bytes(sign_xml(edxml_document(), pki.good))
    code, out = _run(str(good), "--trust", str(trust_dir))
    assert code == 0 and "Result:   TOTAL_PASSED" in out
    tampered = tmp_path / "bad.edxml"
    tampered.write_bytes(good.read_bytes().replace(b"<CodeNumber>123<", b"<CodeNumber>124<"))
    code, out = _run(str(tampered), "--trust", str(trust_dir), "--json")
    assert code == 1
    assert json.loads(out)["sub_indication"] == "HASH_FAILURE"
    revoked = tmp_path / "revoked.pdf"
    revoked.write_bytes(sign_pdf(minimal_pdf(), pki.revoked))
    code, out = _run(str(revoked), "--trust", str(trust_dir))
    assert code == 3 and "REVOKED_NO_POE" in out


def test_cli_policy_option_and_cannot_run_errors(tmp_path: Path, trust_dir: Path, pki: TestPki) -> None:
    legacy = tmp_path / "legacy.edxml"
    legacy.write_bytes(sign_xml(edxml_document(), pki.good, legacy_sha1=True))
    assert _run(str(legacy), "--trust", str(trust_dir))[0] == 0
    policy = tmp_path / "strict.yaml"
    policy.write_text("name: strict\nchecks: {weak_algorithm: fail}\n")
    code, out = _run(str(legacy), "--trust", str(trust_dir), "--policy", str(policy), "--json")
    assert code == 3 and json.loads(out)["policy"] == "strict v1"
    assert _run(str(legacy))[0] == 4  # no trust anchors configured
    assert _run(str(tmp_path / "missing.xml"), "--trust", str(trust_dir))[0] == 4
    assert _run(str(legacy), "--trust", str(tmp_path / "nope"))[0] == 4


@pytest.fixture(scope="module")
def api_url(trust: TrustStore):
    app = FastAPI()
    app.include_router(signing_http.router)
    signing_http.configure(trust)
    with serve_in_thread(app) as server:
        yield server.url
    signing_http._state.clear()


def test_endpoint_raw_body(api_url: str, pki: TestPki) -> None:
    body = sign_jws(b'{"a": 1}', pki.ec).encode()
    response = httpx.post(f"{api_url}/signatures/verify", content=body, headers={"content-type": "application/jose"})
    assert response.status_code == 200
    assert response.headers["x-signature-indication"] == "TOTAL_PASSED"
    report = response.json()
    assert report["indication"] == "TOTAL_PASSED" and report["document"]["format"] == "jws"
    assert len(response.headers["x-signature-report-digest"]) == 64


def test_endpoint_multipart_upload_of_a_failing_pdf(api_url: str, pki: TestPki) -> None:
    signed = sign_pdf(minimal_pdf(), pki.untrusted)
    response = httpx.post(f"{api_url}/signatures/verify",
                          files={"file": ("van-ban.pdf", signed, "application/pdf")})
    assert response.status_code == 200
    assert response.json()["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    text = httpx.post(f"{api_url}/signatures/verify", content=signed, headers={"accept": "text/plain"})
    assert "Result:   INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND" in text.text


def test_endpoint_must_cover_for_a_body_only_soap_signature(api_url: str, pki: TestPki) -> None:
    soap = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body Id="b">'
            b"<x>1</x></soap:Body></soap:Envelope>")
    signed = sign_xml(soap, pki.good, reference_uri="#b")
    url = f"{api_url}/signatures/verify"
    headers = {"content-type": "application/soap+xml"}
    assert httpx.post(url, content=signed, headers=headers).json()["sub_indication"] == "SIGNED_DATA_NOT_FOUND"
    body_only = httpx.post(url, content=signed, headers=headers, params={"must_cover": "/soap:Envelope/soap:Body"})
    assert body_only.json()["indication"] == "TOTAL_PASSED"


def test_cli_must_cover(tmp_path: Path, trust_dir: Path, pki: TestPki) -> None:
    soap = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body Id="b">'
            b"<x>1</x></soap:Body></soap:Envelope>")
    path = tmp_path / "m.xml"
    path.write_bytes(sign_xml(soap, pki.good, reference_uri="#b"))
    assert _run(str(path), "--trust", str(trust_dir))[0] == 3
    assert _run(str(path), "--trust", str(trust_dir), "--must-cover", "/soap:Envelope/soap:Body")[0] == 0


def test_endpoint_problems(api_url: str) -> None:
    empty = httpx.post(f"{api_url}/signatures/verify", content=b"")
    assert empty.status_code == 400 and empty.headers["content-type"] == "application/problem+json"
    no_file = httpx.post(f"{api_url}/signatures/verify", files={"other": ("x", b"y")})
    assert no_file.status_code == 400 and "file" in no_file.json()["detail"]
    garbage = httpx.post(f"{api_url}/signatures/verify", content=b"\x89PNG garbage")
    assert garbage.status_code == 200 and garbage.json()["sub_indication"] == "FORMAT_FAILURE"


def test_endpoint_unconfigured_is_503() -> None:
    app = FastAPI()
    app.include_router(signing_http.router)
    saved = dict(signing_http._state)
    signing_http._state.clear()
    try:
        with serve_in_thread(app) as server:
            response = httpx.post(f"{server.url}/signatures/verify", content=b"<a/>")
        assert response.status_code == 503 and response.json()["type"].endswith("not-configured")
    finally:
        signing_http._state.update(saved)


@pytest.fixture
def signed_pdf(pki: TestPki) -> bytes:
    return sign_pdf(minimal_pdf(), pki.good)  # pyhanko's sync signer cannot run inside a loop


async def test_verify_works_from_inside_a_running_event_loop(verifier, signed_pdf: bytes) -> None:
    # The gateway is async: certvalidator's coroutines must not collide with the caller's loop.
    report = verifier.verify(signed_pdf)
    assert report.passed, report.render_text()


def test_endpoint_refuses_an_oversized_chunked_body(trust: TrustStore) -> None:
    from signing import Policy

    app = FastAPI()
    app.include_router(signing_http.router)
    saved = dict(signing_http._state)
    signing_http.configure(trust, Policy(max_document_bytes=1000))
    try:
        with serve_in_thread(app) as server:
            chunks = (b"<a>" + b"x" * 400 + b"</a>" for _ in range(5))  # no Content-Length: chunked
            response = httpx.post(f"{server.url}/signatures/verify", content=chunks)
        assert response.status_code == 413 and response.json()["type"].endswith("document-too-large")
    finally:
        signing_http._state.clear()
        signing_http._state.update(saved)
