"""The witness's own key lives in the key store like the log's (issue 17.2): its file holds a reference only."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lgsp.audit.witness import load_or_create_witness_key
from lgsp.settings import Settings


@pytest.fixture
def env_for(key_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """`lgsp witness serve` reads its settings from the environment: give it the test's key store."""
    for name in ("key_backend", "key_kek_file", "pkcs11_module", "pkcs11_token_label", "pkcs11_pin"):
        value = getattr(key_settings, name, None)
        if value:
            monkeypatch.setenv(f"LGSP_{name.upper()}", str(value))
    return key_settings


def test_the_witness_key_file_holds_no_private_key(env_for: Settings, tmp_path: Path) -> None:
    path = tmp_path / "witness.key"
    key = load_or_create_witness_key(path)
    assert b"PRIVATE KEY" not in path.read_bytes()
    again = load_or_create_witness_key(path)  # the same key on the next start
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert key.public_key().public_bytes(*raw) == again.public_key().public_bytes(*raw)
    key.public_key().verify(key.sign(b"checkpoint"), b"checkpoint")


def test_a_plain_witness_key_from_an_older_version_is_wrapped_in_place(env_for: Settings, tmp_path: Path) -> None:
    path = tmp_path / "old-witness.pem"
    old = Ed25519PrivateKey.generate()
    path.write_bytes(old.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    key = load_or_create_witness_key(path)
    assert b"PRIVATE KEY" not in path.read_bytes()
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert key.public_key().public_bytes(*raw) == old.public_key().public_bytes(*raw)
