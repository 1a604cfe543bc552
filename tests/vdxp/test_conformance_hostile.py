"""``lgsp conformance`` against what a partner may send: dead, silent, lying or huge endpoints, odd folders of
packets, unwritable report paths. Every case ends in one readable line and a documented exit code
(0 conformant, 1 not conformant, 2 usage error, 3 could not judge), never a traceback, a hang or a wrong OK.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from lgsp.conformance.runner import parse_junit
from lgsp.testing.servers import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "edxml"
pytestmark = pytest.mark.timeout(170)


def lgsp(*args: str, env: dict[str, str] | None = None, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lgsp.cli", "conformance", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})})


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-2000:]


def _answer_everything(body: dict[str, object] | None = None, *, stream: bool = False) -> Starlette:
    async def endless(request: Request) -> AsyncIterator[bytes]:
        while not await request.is_disconnected():
            yield b"A" * 65536
            await asyncio.sleep(0)  # let the server see the client go away

    async def anything(request: Request) -> Response:
        if stream:
            return StreamingResponse(endless(request), media_type="application/json")
        return JSONResponse(body)

    methods = ["GET", "POST", "PUT"]
    return Starlette(routes=[Route("/", anything, methods=methods), Route("/{path:path}", anything, methods=methods)])


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections, reads the request, never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()


# ---------------------------------------------------------------------------------------- --target


def test_a_dead_endpoint_cannot_be_judged(tmp_path: Path) -> None:
    """Before: every check failed with the same connection error and the verdict read NOT CONFORMANT (1)."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    result = lgsp("ngsp", "--target", f"http://127.0.0.1:{port}/", "--junit-xml", str(tmp_path / "dead.xml"))
    _no_traceback(result)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "could not judge" in result.stderr and "Connection refused" in result.stderr


@pytest.mark.parametrize("url", ["notaurl", "ftp://x", "127.0.0.1:8080", "http://", "http://127.0.0.1:99999"])
def test_a_target_that_is_not_an_http_url_is_a_usage_error(url: str) -> None:
    """Before: the suite ran and judged the partner NOT CONFORMANT for our own typo (exit 1)."""
    result = lgsp("vdxp", "--target", url, "--system-id", "x", env={"VDXP_SECRET": "s"})
    _no_traceback(result)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--target" in result.stderr


def test_a_silent_endpoint_is_reported_in_bounded_time() -> None:
    """Before: each check waited for its own read timeout, the run took minutes and ended NOT CONFORMANT."""
    with silent_server() as url:
        result = lgsp("dvcqg", "--target", url, "--madonvi", "000.00.12.H10", timeout=60,
                      env={"LGSP_CONFORMANCE_PREFLIGHT_SECONDS": "2", "DVCQG_USERNAME": "u", "DVCQG_PASSWORD": "p"})
    _no_traceback(result)
    assert result.returncode == 3 and "no complete answer within 2 s" in result.stderr


def test_an_axis_answering_nulls_to_everything_fails_the_refusal_checks(tmp_path: Path) -> None:
    """Before: ``{"status": null, "ErrorCode": null}`` counted as a refusal, so an axis that checks no
    signature at all passed the wrong-secret, unsigned, unknown-system... checks."""
    junit = tmp_path / "axis.xml"
    with serve_in_thread(_answer_everything({"status": None, "ErrorCode": None, "data": None})) as server:
        result = lgsp("vdxp", "--target", server.url, "--system-id", "x", "--junit-xml", str(junit),
                      env={"VDXP_SECRET": "s"})
    _no_traceback(result)
    assert result.returncode == 1 and "NOT CONFORMANT" in result.stdout
    cases = {c.check: c for c in parse_junit(junit)}
    for check in ("test_wrong_secret_is_rejected", "test_unsigned_request_is_rejected",
                  "test_unknown_system_is_rejected", "test_stale_timestamp_is_rejected"):
        assert cases[check].outcome == "failed", (check, cases[check])
        assert "not refused" in cases[check].message


def test_a_portal_answering_null_error_codes_fails_the_refusal_checks(tmp_path: Path) -> None:
    """Before: ``error_code: null`` was "not OK", hence a refusal: a wrong password passed as refused."""
    junit = tmp_path / "dvcqg.xml"
    with serve_in_thread(_answer_everything({"error_code": None, "session": None, "result": None})) as server:
        result = lgsp("dvcqg", "--target", server.url, "--madonvi", "000.00.12.H10", "--junit-xml", str(junit),
                      env={"DVCQG_USERNAME": "u", "DVCQG_PASSWORD": "p"})
    _no_traceback(result)
    assert result.returncode == 1
    cases = {c.check: c for c in parse_junit(junit)}
    assert cases["test_login_with_a_wrong_password_is_refused"].outcome == "failed"
    assert cases["test_call_with_an_unknown_session_is_refused"].outcome == "failed"


def test_an_endless_answer_is_cut_at_the_size_limit(tmp_path: Path) -> None:
    """Before: the whole body was read into memory (a 3 GB answer: MemoryError or the machine's RAM)."""
    junit = tmp_path / "ngsp.xml"
    with serve_in_thread(_answer_everything(stream=True)) as server:
        result = lgsp("ngsp", "--target", server.url + "/", "--junit-xml", str(junit), timeout=120,
                      env={"CONFORMANCE_MAX_ANSWER_BYTES": str(1 << 20)})
    _no_traceback(result)
    assert result.returncode == 1
    failed = [c for c in parse_junit(junit) if c.outcome == "failed"]
    assert failed and all("longer than 1048576 bytes" in c.message for c in failed[:3]), failed[:3]


# ---------------------------------------------------------------------------------------- --edxml-dir


def _good() -> bytes:
    return (FIXTURES / "sdk_revocation.edxml").read_bytes()


def test_a_folder_without_packets_is_a_usage_error_not_conformant(tmp_path: Path) -> None:
    """Before: every producer check skipped and the verdict read CONFORMANT (exit 0)."""
    (tmp_path / "notes.txt").write_text("no packets here")
    result = lgsp("vdxp", "--edxml-dir", str(tmp_path))
    _no_traceback(result)
    assert result.returncode == 2 and "no *.edxml or *.xml file" in result.stderr


def test_a_pipe_and_a_device_are_refused_without_reading(tmp_path: Path) -> None:
    """Before: reading a FIFO blocked the run (until pytest-timeout, per check) and a symlink to /dev/zero
    read without end."""
    folder = tmp_path / "partner"
    folder.mkdir()
    (folder / "good.edxml").write_bytes(_good())
    os.mkfifo(folder / "pipe.edxml")
    (folder / "zero.edxml").symlink_to("/dev/zero")
    (folder / "folder.edxml").mkdir()
    junit = tmp_path / "r.xml"
    result = lgsp("vdxp", "--edxml-dir", str(folder), "--junit-xml", str(junit), timeout=60)
    _no_traceback(result)
    assert result.returncode == 1
    reasons = {c.subject: c.message for c in parse_junit(junit) if c.check == "test_packet_is_well_formed_without_dtd"}
    for name in ("pipe.edxml", "zero.edxml", "folder.edxml"):
        assert "not a regular file" in reasons[name], reasons
    assert reasons["good.edxml"] == ""


def test_reasons_are_readable_and_one_bad_file_does_not_fail_the_others(tmp_path: Path) -> None:
    """Before: lxml's error printed as 'File "<string>", line 1', a UTF-16 packet was said to have "bytes
    before the XML declaration", a file over any size was read whole, and the status-sequence check
    failed on the first unparsable file (without naming it)."""
    folder = tmp_path / "partner"
    folder.mkdir()
    (folder / "good.edxml").write_bytes(_good())
    (folder / "latin1.edxml").write_bytes(b'<?xml version="1.0"?><edXML>\xe9</edXML>')
    (folder / "utf16.edxml").write_bytes(_good().decode().replace("UTF-8", "UTF-16").encode("utf-16"))
    (folder / "big.edxml").write_bytes(_good().replace(b"<Subject>", b"<Subject>" + b"A" * 20000))
    (folder / "status.edxml").write_bytes(b"\x00garbage")
    junit = tmp_path / "r.xml"
    result = lgsp("vdxp", "--edxml-dir", str(folder), "--junit-xml", str(junit), env={"EDXML_MAX_BYTES": "10000"})
    _no_traceback(result)
    assert result.returncode == 1
    cases = parse_junit(junit)
    reasons = {c.subject: c.message for c in cases if c.check == "test_packet_is_well_formed_without_dtd"}
    assert reasons["latin1.edxml"].startswith("AssertionError: not well-formed XML: ")
    assert "UTF-16" in reasons["utf16.edxml"]
    assert "over the 10000-byte limit" in reasons["big.edxml"]
    assert not any('File "<string>"' in c.message for c in cases)
    sequence = [c for c in cases if c.check == "test_status_sequences_follow_valid_transitions"]
    assert sequence and sequence[0].outcome != "failed", sequence


# ---------------------------------------------------------------------------------------- reports and runs


def test_a_report_path_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    """Before: a directory as --junit-xml ended in IsADirectoryError, a path under a file in
    FileExistsError: tracebacks."""
    for path in (tmp_path, tmp_path / "file" / "report.xml"):
        (tmp_path / "file").write_text("x")
        result = lgsp("vdxp", "--edxml-dir", str(FIXTURES), "--junit-xml", str(path))
        _no_traceback(result)
        assert result.returncode == 2, result.stderr
        assert "--junit-xml" in result.stderr or "JUnit report" in result.stderr


def _fake_suites(tmp_path: Path, test_body: str, conftest: str = "") -> Path:
    suites = tmp_path / "repo" / "conformance_tests"
    (suites / "ngsp").mkdir(parents=True)
    (suites / "ngsp" / "test_fake.py").write_text(test_body)
    (suites / "ngsp" / "conftest.py").write_text(conftest)
    return suites


def test_a_suite_that_does_not_run_is_not_judged_from_a_stale_report(tmp_path: Path) -> None:
    """Before: pytest stopped at a collection error, the report of an earlier run was read back and shown."""
    junit = tmp_path / "report.xml"
    junit.write_text('<testsuites><testsuite><testcase name="test_old_pass" classname="x"/></testsuite></testsuites>')
    suites = _fake_suites(tmp_path, "def test_x():\n    pass\n", conftest="raise RuntimeError('broken suite')\n")
    with serve_in_thread(_answer_everything({})) as server:
        result = lgsp("ngsp", "--target", server.url, "--junit-xml", str(junit),
                      env={"LGSP_CONFORMANCE_DIR": str(suites)})
    _no_traceback(result)
    assert result.returncode == 3 and "did not run" in result.stderr
    assert "test_old_pass" not in result.stdout


def test_a_suite_over_its_time_limit_is_stopped(tmp_path: Path) -> None:
    """Before: there was no --time-limit; the fixed 30-minute limit ended in a TimeoutExpired traceback."""
    suites = _fake_suites(tmp_path, "import time\n\ndef test_slow():\n    time.sleep(60)\n")
    with serve_in_thread(_answer_everything({})) as server:
        result = lgsp("ngsp", "--target", server.url, "--time-limit", "3", env={"LGSP_CONFORMANCE_DIR": str(suites)})
    _no_traceback(result)
    assert result.returncode == 3 and "did not finish within 3 s" in result.stderr


def test_every_check_skipped_is_not_conformant_but_not_judged(tmp_path: Path) -> None:
    """Before: a DVCQG run without credentials skipped everything and printed CONFORMANT (exit 0)."""
    with serve_in_thread(_answer_everything({})) as server:
        result = lgsp("dvcqg", "--target", server.url, env={"DVCQG_USERNAME": "", "DVCQG_PASSWORD": ""})
    _no_traceback(result)
    assert result.returncode == 3 and "NOTHING CHECKED" in result.stdout
    assert "CONFORMANT" not in result.stdout.replace("NOTHING CHECKED", "")


def test_failure_texts_with_control_characters_and_huge_text_keep_the_report_readable(tmp_path: Path) -> None:
    """Before: the report was read back with the hardened parser's limits for partner input, so a failure
    text longer than 10 MB (or a report of >200,000 elements) ended in XmlLimitExceeded: a traceback."""
    body = (
        "def test_odd():\n"
        "    raise AssertionError('ctl \\x01\\x1b ]]> \\udcff \\ud800 ' + 'x' * 11_000_000)\n"
    )
    suites = _fake_suites(tmp_path, body)
    junit = tmp_path / "r.xml"
    with serve_in_thread(_answer_everything({})) as server:
        result = lgsp("ngsp", "--target", server.url, "--junit-xml", str(junit),
                      env={"LGSP_CONFORMANCE_DIR": str(suites)})
    _no_traceback(result)
    assert result.returncode == 1 and "NOT CONFORMANT" in result.stdout
    (case,) = parse_junit(junit)
    assert case.outcome == "failed" and case.message.startswith("AssertionError: ctl")
