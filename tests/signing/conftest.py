"""Shared fixtures: one generated PKI and its CRL/OCSP responder on a real 127.0.0.1 port per session.

Tests that break the responder (ocsp_up=False, ...) must use ``responder`` through ``fresh_responder``
semantics: the ``responder_state`` fixture restores the switches afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lgsp.testing.servers import start_server
from signing import Policy, TrustStore, Verifier
from signing.testing import RevocationResponder, TestPki, build_pki


@pytest.fixture(scope="session")
def responder() -> Iterator[RevocationResponder]:
    app = RevocationResponder()
    server = start_server(app)
    app.pki = build_pki(server.url)
    app.server = server  # type: ignore[attr-defined]
    yield app
    server.stop()


@pytest.fixture(autouse=True)
def responder_state(responder: RevocationResponder) -> Iterator[None]:
    yield
    responder.ocsp_up = responder.crl_up = responder.echo_nonce = True
    responder.trickle = False


@pytest.fixture(scope="session")
def pki(responder: RevocationResponder) -> TestPki:
    assert responder.pki is not None
    return responder.pki


@pytest.fixture(scope="session")
def trust(pki: TestPki) -> TrustStore:
    return TrustStore.from_pem(pki.root_pem)


@pytest.fixture
def verifier(trust: TrustStore) -> Verifier:
    """A fresh verifier per test: its own revocation and chain caches, so tests do not see each other's."""
    return Verifier(trust, Policy())
