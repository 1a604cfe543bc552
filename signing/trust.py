"""Trust anchors from configuration: a folder of certificates and/or PEM bundles.

Nothing is trusted by default — signxml and the OS trust list would otherwise accept public web CAs. One
authority may have several roots at once (Vietnam's national root was re-issued in 2025, and documents
signed under the old root stay valid), so anchors are a plain set, grouped by subject only for display.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509

from .der import fingerprint, load_certificate

CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")


class TrustStoreError(ValueError):
    """A trust source could not be read (missing path, not a certificate)."""


def load_certificates(data: bytes, origin: str = "<bytes>") -> list[asn1_x509.Certificate]:
    """All certificates in a PEM bundle or a single DER certificate."""
    try:
        if asn1_pem.detect(data):
            certs = [
                load_certificate(der)
                for kind, _headers, der in asn1_pem.unarmor(data, multiple=True)
                if kind == "CERTIFICATE"
            ]
        else:
            certs = [load_certificate(data)]
        for cert in certs:
            _ = cert.subject.human_friendly  # force parsing now, so a broken file fails at load time
    except (ValueError, TypeError) as exc:
        raise TrustStoreError(f"{origin}: not a certificate or PEM bundle ({exc})") from exc
    if not certs:
        raise TrustStoreError(f"{origin}: contains no certificate")
    return certs


@dataclass
class TrustStore:
    """A set of trust anchors; ``fingerprint`` identifies the set for caches keyed on trust."""

    anchors: list[asn1_x509.Certificate] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._dedupe()

    def _dedupe(self) -> None:
        seen: dict[str, asn1_x509.Certificate] = {}
        for cert in self.anchors:
            seen.setdefault(fingerprint(cert), cert)
        self.anchors = list(seen.values())
        self.fingerprint = hashlib.sha256("".join(sorted(seen)).encode()).hexdigest()

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path]) -> TrustStore:
        """Load every certificate file under the given folders and every given bundle file."""
        anchors: list[asn1_x509.Certificate] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                files = sorted(p for p in path.rglob("*") if p.suffix.lower() in CERT_SUFFIXES)
                if not files:
                    raise TrustStoreError(f"{path}: folder holds no certificate files ({', '.join(CERT_SUFFIXES)})")
                for file in files:
                    anchors += load_certificates(file.read_bytes(), str(file))
            elif path.is_file():
                anchors += load_certificates(path.read_bytes(), str(path))
            else:
                raise TrustStoreError(f"{path}: no such file or folder")
        return cls(anchors)

    @classmethod
    def from_pem(cls, *blobs: bytes) -> TrustStore:
        anchors: list[asn1_x509.Certificate] = []
        for blob in blobs:
            anchors += load_certificates(blob)
        return cls(anchors)

    def add(self, *certs: asn1_x509.Certificate) -> None:
        self.anchors.extend(certs)
        self._dedupe()

    def by_authority(self) -> dict[str, list[asn1_x509.Certificate]]:
        """Anchors grouped by subject: one authority, possibly several (re-issued) roots."""
        groups: dict[str, list[asn1_x509.Certificate]] = {}
        for cert in self.anchors:
            groups.setdefault(cert.subject.human_friendly, []).append(cert)
        return groups

    def __len__(self) -> int:
        return len(self.anchors)
