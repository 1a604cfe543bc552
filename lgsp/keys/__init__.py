"""One interface for private keys, two backends: an HSM over PKCS#11, or encrypted at rest (the default).

Why: token-signing keys sat as plain PEM in the database and the audit-log key as a plain file; whoever
read a backup could mint tokens or re-sign the log. Now a private key is only ever held as a *reference*
(``enc:v1:…`` — the key wrapped with AES-256-GCM under a key-encryption key kept outside the database —
or ``pkcs11:…`` — a handle to a key that never leaves the token) and used through :class:`KeyStore`:
``generate`` / ``sign`` / ``public_key`` / ``where``. Nothing here logs, returns or stores a private key
in plain. ``lgsp keys list`` shows where each key lives; rotation is the same call on both backends.
"""

from lgsp.keys.base import ALGORITHMS, ED25519, ES256, KeyStore, KeyStoreError, backend_of
from lgsp.keys.factory import keystore_for, keystore_from_settings

__all__ = ["ALGORITHMS", "ED25519", "ES256", "KeyStore", "KeyStoreError", "backend_of", "keystore_for",
           "keystore_from_settings"]
