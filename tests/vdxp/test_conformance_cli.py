"""``lgsp conformance vdxp``: the suite as a product — an axis by URL, a folder of partner packets,
a terminal summary and a JUnit XML report."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

from vdxp_factories import RECIPIENT, SENDER
from vdxp_support import simulator_config

from adapters.vdxp.simulator import create_simulator_app
from lgsp.conformance.runner import parse_junit
from lgsp.testing.servers import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "edxml"


def lgsp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "lgsp.cli", "conformance", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180, env={**os.environ, "COLUMNS": "200", **(env or {})})


def test_judging_a_folder_of_partner_packets(tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    result = lgsp("vdxp", "--edxml-dir", str(FIXTURES), "--junit-xml", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CONFORMANT" in result.stdout and "sdk_revocation.edxml" in result.stdout
    assert "Signature is in the edXML namespace" in result.stdout  # reported, not failed
    cases = parse_junit(junit)
    assert {c.subject for c in cases if c.outcome == "passed"} >= {"axis_relayed.edxml", "vxp_saas.edxml"}


def test_a_bad_packet_is_named_with_its_failed_check(tmp_path: Path) -> None:
    folder = tmp_path / "partner"
    folder.mkdir()
    good = (FIXTURES / "sdk_revocation.edxml").read_bytes()
    (folder / "no-target.edxml").write_bytes(
        good.replace(b"<DocumentId>000.00.12.H10,2026/11/26,4521/STTTT-VP</DocumentId>", b""))
    bad_date = good.replace(b"2026/11/27</PromulgationDate>", b"27-11-2026</PromulgationDate>")
    (folder / "bad-date.edxml").write_bytes(bad_date)
    junit = tmp_path / "report.xml"
    result = lgsp("vdxp", "--edxml-dir", str(folder), "--junit-xml", str(junit))
    assert result.returncode == 1
    assert "NOT CONFORMANT" in result.stdout
    failed = {(c.subject, c.check) for c in parse_junit(junit) if c.outcome == "failed"}
    assert ("no-target.edxml", "test_required_fields_are_present") in failed
    assert ("bad-date.edxml", "test_packet_validates_against_the_edxml_schema") in failed
    assert "names no target document" in " ".join(c.message for c in parse_junit(junit))
    assert "no-target.edxml" in result.stdout


def test_an_axis_by_url(tmp_path: Path) -> None:
    lgsp_secret, vpcp_secret = secrets.token_hex(16), secrets.token_hex(16)
    app = create_simulator_app(simulator_config(lgsp_secret, vpcp_secret, secrets.token_hex(8)))
    junit = tmp_path / "axis.xml"
    with serve_in_thread(app) as server:
        result = lgsp("vdxp", "--target", server.url, "--system-id", "lgsp-cantho", "--sender", SENDER,
                      "--recipient", RECIPIENT, "--recv-system-id", "vpcp-qlvb", "--allow-send",
                      "--junit-xml", str(junit),
                      env={"VDXP_SECRET": lgsp_secret, "VDXP_RECV_SECRET": vpcp_secret})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    cases = parse_junit(junit)
    assert sum(c.outcome == "passed" for c in cases) >= 14
    assert lgsp_secret not in result.stdout


def test_nothing_to_judge_is_a_usage_error() -> None:
    result = lgsp("vdxp")
    assert result.returncode == 2 and "--target" in result.stderr


def test_the_ngsp_suite_by_url(tmp_path: Path) -> None:
    from adapters.ngsp.simulator import create_simulator_app as create_ngsp_simulator

    junit = tmp_path / "ngsp.xml"
    with serve_in_thread(create_ngsp_simulator()) as server:
        result = lgsp("ngsp", "--target", server.url + "/", "--junit-xml", str(junit))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "CONFORMANT" in result.stdout
    cases = parse_junit(junit)
    assert cases and all(c.outcome == "passed" for c in cases)
