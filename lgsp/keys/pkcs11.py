"""Keys in an HSM through PKCS#11 (python-pkcs11): generated on the token, never extractable.

As X-Road's signer does, lgsp keeps only a reference — ``pkcs11:token=<label>;id=<hex>;alg=<algorithm>`` —
and asks the token to sign. Keys are created ``sensitive`` and not ``extractable``, so even the HSM's own
API will not hand the private value out. Tested against SoftHSM2 (``scripts/ensure-softhsm.sh``).

One logged-in session per process, behind a lock: PKCS#11 sessions are not safe to share between
threads, and logging in per signature would cost more than the signature.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from typing import Any

from cryptography.hazmat.primitives import serialization

from lgsp.keys.base import ED25519, ES256, KeyStoreError, PublicKey

_CURVES = {ES256: "secp256r1", ED25519: "1.3.101.112"}


class Pkcs11KeyStore:
    name = "pkcs11"

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        try:
            import pkcs11
        except ImportError:  # pragma: no cover - the hsm extra is not installed
            raise KeyStoreError("LGSP_KEY_BACKEND=pkcs11 needs python-pkcs11 (pip install 'lgsp[hsm]')") from None
        if not module:
            raise KeyStoreError("LGSP_PKCS11_MODULE must name the HSM's PKCS#11 module (.so)")
        if not pin:
            raise KeyStoreError("the PKCS#11 user PIN is missing (LGSP_PKCS11_PIN or LGSP_PKCS11_PIN_FILE)")
        self.module, self.token_label = module, token_label
        self._pkcs11 = pkcs11
        self._pin = pin
        self._lock = threading.Lock()
        self._session: Any = None

    def _open(self) -> Any:
        if self._session is None:
            try:
                token = self._pkcs11.lib(self.module).get_token(token_label=self.token_label)
                self._session = token.open(rw=True, user_pin=self._pin)
            except Exception as exc:  # no such token, wrong PIN, module not loadable
                raise KeyStoreError(f"PKCS#11 token {self.token_label!r} via {self.module}: "
                                    f"{type(exc).__name__}") from None
        return self._session

    def _parse(self, ref: str) -> tuple[bytes, str]:
        if not ref.startswith("pkcs11:"):
            raise KeyStoreError("not a PKCS#11 key reference")
        fields = dict(part.split("=", 1) for part in ref[len("pkcs11:"):].split(";") if "=" in part)
        try:
            return bytes.fromhex(fields["id"]), fields["alg"]
        except (KeyError, ValueError):
            raise KeyStoreError(f"bad PKCS#11 key reference {ref!r}") from None

    def _key(self, ref: str, object_class: Any) -> Any:
        key_id, _ = self._parse(ref)
        session = self._open()
        try:
            return session.get_key(object_class=object_class, id=key_id)
        except Exception:
            raise KeyStoreError(f"no such key on token {self.token_label!r}: {key_id.hex()}") from None

    def generate(self, label: str, algorithm: str) -> str:
        if algorithm not in _CURVES:
            raise KeyStoreError(f"unsupported algorithm {algorithm!r}")
        from pkcs11 import Attribute, KeyType, Mechanism
        from pkcs11.util.ec import encode_named_curve_parameters

        key_id = secrets.token_bytes(8)
        key_type = KeyType.EC if algorithm == ES256 else KeyType.EC_EDWARDS
        mechanism = Mechanism.EC_KEY_PAIR_GEN if algorithm == ES256 else Mechanism.EC_EDWARDS_KEY_PAIR_GEN
        private_template = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True}
        with self._lock:
            session = self._open()
            params = session.create_domain_parameters(
                key_type, {Attribute.EC_PARAMS: encode_named_curve_parameters(_CURVES[algorithm])}, local=True)
            params.generate_keypair(store=True, label=label, id=key_id, mechanism=mechanism,
                                    private_template=private_template)
        return f"pkcs11:token={self.token_label};id={key_id.hex()};alg={algorithm};label={label}"

    def sign(self, ref: str, data: bytes) -> bytes:
        from pkcs11 import Mechanism, ObjectClass

        _, algorithm = self._parse(ref)
        with self._lock:
            key = self._key(ref, ObjectClass.PRIVATE_KEY)
            if algorithm == ES256:  # CKM_ECDSA signs a digest and answers r || s, as JWS wants
                return bytes(key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA))
            return bytes(key.sign(data, mechanism=Mechanism.EDDSA))

    def public_key(self, ref: str) -> PublicKey:
        from pkcs11 import Attribute, ObjectClass

        _, algorithm = self._parse(ref)
        with self._lock:
            public = self._key(ref, ObjectClass.PUBLIC_KEY)
            if algorithm == ES256:
                from pkcs11.util.ec import encode_ec_public_key

                loaded = serialization.load_der_public_key(encode_ec_public_key(public))
            else:
                point = bytes(public[Attribute.EC_POINT])
                raw = point[2:] if len(point) == 34 and point[0] == 0x04 else point  # DER OCTET STRING
                from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

                loaded = Ed25519PublicKey.from_public_bytes(raw)
        assert not isinstance(loaded, str)
        return loaded  # type: ignore[return-value]

    def where(self, ref: str) -> str:
        key_id, _ = self._parse(ref)
        return f"HSM (PKCS#11 token {self.token_label!r}, object id {key_id.hex()}, not extractable)"

    def destroy(self, ref: str) -> None:
        from pkcs11 import ObjectClass

        with self._lock:
            for object_class in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
                try:
                    self._key(ref, object_class).destroy()
                except KeyStoreError:
                    pass
