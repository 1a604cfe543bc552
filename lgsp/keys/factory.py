"""Choosing the backend from settings (``LGSP_KEY_BACKEND``), once per process and configuration."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from lgsp.keys.base import KeyStore, KeyStoreError, backend_of

if TYPE_CHECKING:
    from lgsp.settings import Settings

_lock = threading.Lock()
_stores: dict[tuple[str, ...], KeyStore] = {}


def _pin(settings: Settings) -> str:
    if settings.pkcs11_pin:
        return settings.pkcs11_pin
    if settings.pkcs11_pin_file:
        return Path(settings.pkcs11_pin_file).read_text(encoding="utf-8").strip()
    return ""


def keystore_from_settings(settings: Settings, backend: str | None = None) -> KeyStore:
    """The configured key store (or the one ``backend`` names), shared within the process."""
    name = backend or settings.key_backend
    if name == "encrypted":
        # The file by its absolute path: the default is relative (var/lgsp-kek.key), and a store cached under
        # that string in one working directory handed its KEK to a later call from another one, which then
        # could not unwrap its keys ("wrapped with KEK x, but the configured KEK is y").
        kek_file = str(Path(settings.key_kek_file).resolve()) if not settings.key_kek else ""
        cache_key: tuple[str, ...] = (name, kek_file, settings.key_kek)
    elif name == "pkcs11":
        cache_key = (name, settings.pkcs11_module, settings.pkcs11_token_label, _pin(settings))
    else:
        raise KeyStoreError(f"LGSP_KEY_BACKEND must be encrypted or pkcs11, not {name!r}")
    with _lock:
        store = _stores.get(cache_key)
        if store is None:
            if name == "encrypted":
                from lgsp.keys.encrypted import EncryptedKeyStore, load_kek

                source = "from LGSP_KEY_KEK" if settings.key_kek else f"in {settings.key_kek_file}"
                store = EncryptedKeyStore(load_kek(settings.key_kek, settings.key_kek_file), source)
            else:
                from lgsp.keys.pkcs11 import Pkcs11KeyStore

                store = Pkcs11KeyStore(settings.pkcs11_module, settings.pkcs11_token_label, _pin(settings))
            _stores[cache_key] = store
    return store


def keystore_for(settings: Settings, ref: str) -> KeyStore:
    """The store that can use the key ``ref`` (a key made before a backend switch keeps working)."""
    backend = backend_of(ref)
    if backend == "plain":
        raise KeyStoreError("a plain private key: wrap it first")
    return keystore_from_settings(settings, backend)
