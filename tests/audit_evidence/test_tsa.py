"""RFC 3161 tokens over heads from a real TSA served on 127.0.0.1."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from lgsp.audit.sth import LogSigner
from lgsp.audit.tsa import TestTsa, TimestampError, TsaClient, load_certificates, verify_head_token
from lgsp.testing.servers import RunningServer, serve_in_thread


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
