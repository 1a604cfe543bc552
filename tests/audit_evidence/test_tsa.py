"""RFC 3161 tokens over heads from a real TSA served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lgsp.audit.bundle import build_bundle, verify_bundle
from lgsp.audit.offline_verify import main
from lgsp.audit.sth import LogSigner
from lgsp.audit.tsa import TestTsa, TimestampError, TsaClient, load_certificates, verify_head_token
from lgsp.testing.servers import RunningServer, serve_in_thread

from .factories import SampleLog


@pytest.fixture(scope="module")
def tsa() -> TestTsa:
    return TestTsa()


@pytest.fixture(scope="module")
def tsa_server(tsa: TestTsa) -> Iterator[RunningServer]:
    with serve_in_thread(tsa.app) as server:
        yield server


async def test_token_over_a_head_verifies_against_the_tsa_root(tsa: TestTsa, tsa_server: RunningServer) -> None:
    signer = LogSigner.generate()
    head = signer.sign_head(10, hashlib.sha256(b"r").digest())
    served = tsa.requests_served
    token = await TsaClient(tsa_server.url + "/").timestamp_head(head)
    assert tsa.requests_served == served + 1
    verdict = await verify_head_token(head.with_tsa_token(token), load_certificates(tsa.root_pem))
    assert "lgsp test TSA" in verdict.tsa_subject
    assert verdict.time.tzinfo is not None


async def test_token_does_not_transfer_to_another_head(tsa: TestTsa, tsa_server: RunningServer) -> None:
    signer = LogSigner.generate()
    head = signer.sign_head(10, hashlib.sha256(b"r").digest())
    token = await TsaClient(tsa_server.url + "/").timestamp_head(head)
    other = signer.sign_head(11, hashlib.sha256(b"r").digest())
    with pytest.raises(TimestampError, match="does not cover"):
        await verify_head_token(other, load_certificates(tsa.root_pem), token)


async def test_token_from_an_untrusted_tsa_is_refused(tsa: TestTsa, tsa_server: RunningServer) -> None:
    head = LogSigner.generate().sign_head(1, hashlib.sha256(b"r").digest())
    token = await TsaClient(tsa_server.url + "/").timestamp_head(head)
    with pytest.raises(TimestampError, match="not from a trusted TSA"):
        await verify_head_token(head, load_certificates(TestTsa().root_pem), token)


async def test_garbage_token_and_unreachable_tsa_give_clear_errors(tsa: TestTsa) -> None:
    head = LogSigner.generate().sign_head(1, hashlib.sha256(b"r").digest())
    with pytest.raises(TimestampError, match="malformed"):
        await verify_head_token(head, load_certificates(tsa.root_pem), b"\x30\x03\x02\x01\x01")
    with pytest.raises(TimestampError, match="carries no timestamp token"):
        await verify_head_token(head, load_certificates(tsa.root_pem))
    with serve_in_thread(TestTsa().app) as server:
        url = server.url + "/"
    with pytest.raises(TimestampError, match="failed"):
        await TsaClient(url, timeout=2).timestamp_head(head)  # server stopped: connection refused


async def test_offline_verifier_checks_tokens_in_a_bundle(
    tsa: TestTsa, tsa_server: RunningServer, tmp_path: Path
) -> None:
    log = SampleLog()
    client = TsaClient(tsa_server.url + "/")
    for batch in (5, 9):
        log.append(batch)
        head = log.sign_head()
        log.heads[-1] = head.with_tsa_token(await client.timestamp_head(head))
    bundle = build_bundle(log.entries, log.heads, log.store, log.keyring, signer=log.signer)
    root = tmp_path / "tsa-root.pem"
    root.write_bytes(tsa.root_pem)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(log.keyring.to_json()))

    def run(data: dict[str, Any], *extra: str) -> int:
        path = tmp_path / "bundle.json"
        path.write_text(json.dumps(data))
        return main([str(path), "--trusted-keys", str(keys), "--quiet", *extra])

    # main() runs its own event loop for the token checks, so call it from a worker thread
    assert await asyncio.to_thread(run, bundle, "--tsa-root", str(root)) == 0
    report = await asyncio.to_thread(verify_bundle, bundle, log.keyring, tsa.root_pem)
    assert [c.ok for c in report.checks if c.name.startswith("timestamp")] == [True, True]
    unchecked = await asyncio.to_thread(verify_bundle, bundle, log.keyring)
    assert any(c.ok is None and "not checked" in c.detail for c in unchecked.checks)

    swapped = copy.deepcopy(bundle)
    h0, h1 = swapped["heads"]
    h0["tsa_token"], h1["tsa_token"] = h1["tsa_token"], h0["tsa_token"]
    assert await asyncio.to_thread(run, swapped, "--tsa-root", str(root)) == 1
    other_root = tmp_path / "other.pem"
    other_root.write_bytes(TestTsa().root_pem)
    assert await asyncio.to_thread(run, bundle, "--tsa-root", str(other_root)) == 1


def test_unreadable_tsa_root_is_a_failed_check_not_a_crash() -> None:
    log = SampleLog()
    log.append(3)
    log.heads.append(log.sign_head().with_tsa_token(b"\x30\x00"))
    log.heads.pop(0)
    bundle = build_bundle(log.entries, log.heads, log.store, log.keyring, signer=log.signer)
    report = verify_bundle(bundle, log.keyring, tsa_roots=b"-----BEGIN CERTIFICATE-----\nnope\n")
    assert not report.passed
    assert any("cannot read the TSA root" in c.detail for c in report.failures)
