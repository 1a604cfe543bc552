"""Issue 12 §6 (detached signatures: missing document, --detached, API field) and §8 (one settings path)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from lgsp.testing.servers import serve_in_thread
from signing import TrustStore, Verifier
from signing import http as signing_http
from signing.report import Indication, SubIndication
from signing.testing import TestPki, edxml_document, minimal_pdf, sign_detached_jws, sign_detached_xml, sign_xml


@pytest.fixture(scope="module")
def document() -> bytes:
    return minimal_pdf("Cong van 45/UBND-VP")


def _verdict(report):
    return report.indication, report.sub_indication


def test_detached_xml_without_its_document_is_signed_data_not_found(verifier: Verifier, pki: TestPki,
                                                                    document: bytes) -> None:
    signature = sign_detached_xml(document, "van-ban.pdf", pki.good)
    report = verifier.verify(signature)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND)
    assert "van-ban.pdf" in report.signatures[0].errors[0]


def test_detached_xml_with_its_document_passes_and_a_changed_one_fails(verifier: Verifier, pki: TestPki,
                                                                       document: bytes) -> None:
    signature = sign_detached_xml(document, "van-ban.pdf", pki.good)
    report = verifier.verify(signature, detached={"/tmp/x/van-ban.pdf": document})
    assert report.passed, report.render_text()
    assert report.signatures[0].covered[0].description == 'external (detached) document URI="van-ban.pdf"'
    changed = verifier.verify(signature, detached={"van-ban.pdf": document + b"%"})
    assert _verdict(changed) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


def test_detached_jws_payload(verifier: Verifier, pki: TestPki) -> None:
    token = sign_detached_jws(b'{"hoSo": "H10.1-0001"}', pki.ec).encode()
    assert _verdict(verifier.verify(token)) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND)
    assert verifier.verify(token, detached={"payload.json": b'{"hoSo": "H10.1-0001"}'}).passed


def _lgsp(*args: str, env: dict[str, str]) -> tuple[int, str]:
    from lgsp.cli.main import app

    result = CliRunner().invoke(app, list(args), env={"LGSP_TRUST_PATHS": "", "LGSP_SIGNATURE_POLICY_FILE": "",
                                                      "LGSP_TRUST_DIR": "", "LGSP_SIGNATURE_POLICY": "",
                                                      "LGSP_CONFIG": "", **env})
    return result.exit_code, result.output


def test_lgsp_verify_detached_option(tmp_path: Path, pki: TestPki, document: bytes) -> None:
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    sig = tmp_path / "van-ban.pdf.xml"
    sig.write_bytes(sign_detached_xml(document, "van-ban.pdf", pki.good))
    doc = tmp_path / "van-ban.pdf"
    doc.write_bytes(document)
    env = {"LGSP_TRUST_PATHS": str(tmp_path / "root.pem")}
    code, out = _lgsp("verify", str(sig), env=env)
    assert code == 3 and "SIGNED_DATA_NOT_FOUND" in out
    code, out = _lgsp("verify", str(sig), "--detached", str(doc), env=env)
    assert code == 0, out


def test_lgsp_verify_reads_the_settings_the_gateway_reads(tmp_path: Path, pki: TestPki) -> None:
    from lgsp.gateway.signatures import signature_settings
    from lgsp.settings import Settings

    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    signed = tmp_path / "signed.edxml"
    signed.write_bytes(sign_xml(edxml_document(), pki.good, legacy_sha1=True))
    strict = tmp_path / "strict.yaml"
    strict.write_text("name: strict\nchecks: {weak_algorithm: fail}\n")
    config = tmp_path / "lgsp.yaml"
    config.write_text(f"trust_paths: {tmp_path / 'root.pem'}\nsignature_policy_file: {strict}\n")
    code, out = _lgsp("verify", str(signed), "--json", env={"LGSP_CONFIG": str(config)})
    assert code == 3 and json.loads(out)["policy"] == "strict v1"  # both settings came from the config file
    code, _ = _lgsp("verify", str(signed), env={"LGSP_TRUST_PATHS": f" {tmp_path / 'root.pem'} , "})
    assert code == 0
    assert _lgsp("verify", str(signed), env={})[0] == 4  # nothing configured: could not run
    assert _lgsp("verify", str(signed), env={"LGSP_TRUST_PATHS": str(tmp_path / "nope")})[0] == 4
    # the gateway's reading of the same settings
    gateway = signature_settings(Settings.load(trust_paths=str(tmp_path / "root.pem"),
                                               signature_policy_file=str(strict)))
    assert gateway.trust_paths == (str(tmp_path / "root.pem"),) and gateway.verifier().policy.label == "strict v1"


def test_api_accepts_the_detached_document(trust: TrustStore, pki: TestPki, document: bytes) -> None:
    app = FastAPI()
    app.include_router(signing_http.router)
    saved = dict(signing_http._state)
    signing_http.configure(trust)
    try:
        with serve_in_thread(app) as server:
            url = f"{server.url}/signatures/verify"
            signature = sign_detached_xml(document, "van-ban.pdf", pki.good)
            alone = httpx.post(url, files={"file": ("sig.xml", signature, "application/xml")})
            assert alone.status_code == 200 and alone.json()["sub_indication"] == "SIGNED_DATA_NOT_FOUND"
            both = httpx.post(url, files=[("file", ("sig.xml", signature, "application/xml")),
                                          ("detached", ("van-ban.pdf", document, "application/pdf"))])
            assert both.status_code == 200 and both.json()["indication"] == "TOTAL_PASSED", both.text
    finally:
        signing_http._state.clear()
        signing_http._state.update(saved)
