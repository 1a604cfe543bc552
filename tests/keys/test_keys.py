"""Keys in an HSM (SoftHSM2 over PKCS#11) or encrypted at rest: signing, rotation, no plain private key
anywhere — database, key file, CLI output — and keys written in plain by older versions wrapped in place."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt
from sqlalchemy import insert, select

from lgsp.audit.sth import LogKeyRing
from lgsp.auth.keys import KeyRing
from lgsp.auth.models import SigningKey
from lgsp.auth.tokens import TokenService
from lgsp.keys import ED25519, ES256, KeyStoreError, keystore_from_settings
from lgsp.keys.audit import describe_log_key, load_or_create_log_signer, rotate_log_key
from lgsp.keys.encrypted import EncryptedKeyStore
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade

ROOT = Path(__file__).parents[2]


def verify_es256(public: object, data: bytes, signature: bytes) -> None:
    assert isinstance(public, ec.EllipticCurvePublicKey) and len(signature) == 64
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    public.verify(der, data, ec.ECDSA(hashes.SHA256()))


def test_both_backends_sign_with_keys_they_never_hand_out(key_settings: Settings) -> None:
    store = keystore_from_settings(key_settings)
    es = store.generate("t-es256", ES256)
    ed = store.generate("t-ed25519", ED25519)
    for ref in (es, ed):
        assert "BEGIN" not in ref and ref.startswith(("enc:v1:", "pkcs11:"))
    verify_es256(store.public_key(es), b"payload", store.sign(es, b"payload"))
    public = store.public_key(ed)
    assert isinstance(public, Ed25519PublicKey)
    public.verify(store.sign(ed, b"head"), b"head")
    with pytest.raises(InvalidSignature):
        public.verify(store.sign(ed, b"head"), b"other")
    if store.name == "pkcs11":  # the token refuses to reveal the private value
        import pkcs11
        from pkcs11 import Attribute, ObjectClass

        session = store._open()  # type: ignore[attr-defined]
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=bytes.fromhex(es.split("id=")[1][:16]))
        assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]
        with pytest.raises(pkcs11.exceptions.PKCS11Error):
            key[Attribute.VALUE]
        assert "HSM" in store.where(es)
    for ref in (es, ed):
        store.destroy(ref)


def test_wrapped_keys_need_the_right_kek_and_cannot_be_swapped(tmp_path: Path) -> None:
    store = EncryptedKeyStore(os.urandom(32))
    ref = store.generate("kid-1", ES256)
    assert "BEGIN" not in ref and "kid-1" in ref
    with pytest.raises(KeyStoreError, match="KEK"):
        EncryptedKeyStore(os.urandom(32)).sign(ref, b"x")
    swapped = ref.replace(":kid-1:", ":kid-2:")  # the label is authenticated data
    with pytest.raises(KeyStoreError, match="does not unwrap"):
        store.sign(swapped, b"x")


def _no_plain_private_key(engine: object, kek_dir: Path) -> None:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(SigningKey.private_pem, SigningKey.public_jwk)).all()
    assert rows
    for ref, public in rows:
        assert "PRIVATE KEY" not in ref and ref.startswith(("enc:v1:", "pkcs11:"))
        assert "d" not in public  # the JWK is public only


def test_token_keys_live_in_the_key_store_and_rotate(key_settings: Settings, tmp_path: Path) -> None:
    engine = make_engine(key_settings.database_url)
    upgrade(engine)
    ring = KeyRing(engine, 300, key_settings)
    tokens = TokenService(ring, "http://lgsp.test", 300)
    first, _ = tokens.issue("c1", "000.00.12.H10/QLVB", ["gateway"])
    old_kid = ring.signing_key().kid
    new_kid = ring.rotate()
    second, _ = tokens.issue("c1", "000.00.12.H10/QLVB", ["gateway"])
    other = KeyRing(engine, 300, key_settings)  # another process verifies both from the JWKS alone
    for token, kid in ((first, old_kid), (second, new_kid)):
        decoded = jwt.decode(token, other.key_set())
        assert decoded.header["kid"] == kid and decoded.claims["client_id"] == "c1"
    assert tokens.authenticate(f"Bearer {first}").client_id == "c1"
    assert {k["kid"] for k in other.jwks()["keys"]} == {old_kid, new_kid}
    _no_plain_private_key(engine, tmp_path)
    listed = {row["kid"]: row for row in other.describe()}
    assert listed[new_kid]["backend"] == key_settings.key_backend and listed[old_kid]["retired_at"] is not None
    engine.dispose()


def test_a_plain_pem_left_by_an_older_version_is_wrapped_in_place(tmp_path: Path) -> None:
    settings = Settings.load(database_url=f"sqlite:///{tmp_path / 'lgsp.db'}", key_kek_file=str(tmp_path / "kek"))
    engine = make_engine(settings.database_url)
    upgrade(engine)
    legacy = ec.generate_private_key(ec.SECP256R1())
    pem = legacy.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()).decode()
    from joserfc.jwk import ECKey

    public = ECKey.import_key(pem).as_dict(private=False)
    with engine.begin() as conn:
        conn.execute(insert(SigningKey).values(kid="legacy-1", private_pem=pem, public_jwk=public))
    ring = KeyRing(engine, 300, settings)
    token, _ = TokenService(ring, "http://lgsp.test", 300).issue("c1", None, ["gateway"])
    assert jwt.decode(token, ring.key_set()).header["kid"] == "legacy-1"
    _no_plain_private_key(engine, tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "kek").st_mode) == 0o600
    engine.dispose()


def test_audit_log_key_file_holds_a_reference_and_rotates(key_settings: Settings) -> None:
    signer = load_or_create_log_signer(key_settings)
    path = Path(key_settings.audit_log_key_file)
    text = path.read_text()
    assert "PRIVATE KEY" not in text and text.startswith(("enc:v1:", "pkcs11:"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    head = signer.sign_head(3, b"\x01" * 32)
    again = load_or_create_log_signer(key_settings)  # a second process: the same key
    assert again.key_id == signer.key_id
    LogKeyRing([again.public]).verify(head)
    rotated = rotate_log_key(key_settings)
    assert rotated.key_id != signer.key_id and load_or_create_log_signer(key_settings).key_id == rotated.key_id
    LogKeyRing([rotated.public]).verify(rotated.sign_head(4, b"\x02" * 32))
    assert describe_log_key(key_settings)["backend"] == key_settings.key_backend


def test_a_plain_audit_key_file_is_wrapped_in_place(tmp_path: Path) -> None:
    path = tmp_path / "log-key.pem"
    legacy = Ed25519PrivateKey.generate()
    path.write_bytes(legacy.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    settings = Settings.load(audit_log_key_file=str(path), key_kek_file=str(tmp_path / "kek"))
    signer = load_or_create_log_signer(settings)
    assert signer.public.public_key.public_bytes_raw() == legacy.public_key().public_bytes_raw()
    assert path.read_text().startswith("enc:v1:") and stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_lgsp_keys_list_shows_where_each_key_lives(tmp_path: Path) -> None:
    env = {**os.environ, "LGSP_DATABASE_URL": f"sqlite:///{tmp_path / 'lgsp.db'}", "COLUMNS": "250",
           "LGSP_KEY_KEK_FILE": str(tmp_path / "kek"), "LGSP_AUDIT_LOG_KEY_FILE": str(tmp_path / "log.key")}
    run = [sys.executable, "-m", "lgsp.cli", "keys"]
    rotated = subprocess.run([*run, "rotate"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert rotated.returncode == 0, rotated.stderr
    listed = subprocess.run([*run, "list", "--json"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    token_row = next(r for r in rows if r["use"].startswith("token"))
    assert token_row["backend"] == "encrypted" and "AES-256-GCM" in token_row["where"]
    assert any(r["use"].startswith("audit") for r in rows)
    assert "PRIVATE" not in listed.stdout and "enc:v1" not in listed.stdout


def test_an_unusable_key_store_is_a_503_problem_not_a_500(tmp_path: Path) -> None:
    import base64

    import httpx

    from lgsp.app import create_app
    from lgsp.auth.clients import create_client
    from lgsp.testing.servers import start_server

    url = f"sqlite:///{tmp_path / 'lgsp.db'}"
    first = create_app(Settings.load(database_url=url, key_kek_file=str(tmp_path / "kek"), access_log=False))
    first.runtime.keyring.signing_key()  # a key wrapped under the first KEK
    cred = create_client(first.runtime.engine, None, ["auditor"])
    wrong_kek = base64.b64encode(os.urandom(32)).decode()  # e.g. the KEK file was not restored with the database
    app = create_app(Settings.load(database_url=url, key_kek=wrong_kek, access_log=False))
    server = start_server(app)
    try:
        reply = httpx.post(server.url + "/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(cred.client_id, cred.client_secret), timeout=30)
    finally:
        server.stop()
    assert reply.status_code == 503 and reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body["type"].endswith("keys-unavailable") and "enc:" not in reply.text and "PRIVATE" not in reply.text


def test_a_relative_kek_file_is_the_file_of_the_working_directory_of_each_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default KEK file is relative (var/lgsp-kek.key). Stores were cached under that string, so a store
    made in one working directory (a test's temporary one, a second deployment) served its KEK to calls
    from another, whose keys it could not unwrap: "wrapped with KEK x, but the configured KEK is y"."""
    ids = []
    for name in ("first", "second"):
        folder = tmp_path / name
        (folder / "var").mkdir(parents=True)
        (folder / "var" / "k.key").write_bytes(os.urandom(32))
        monkeypatch.chdir(folder)
        store = keystore_from_settings(Settings.load(key_backend="encrypted", key_kek_file="var/k.key", key_kek=""))
        assert isinstance(store, EncryptedKeyStore)
        ids.append(store.kek_id)
    assert ids[0] != ids[1]
