"""What revocation checking may cost one verification: a deadline over all its fetches, a cap on the
responders tried per certificate, and CRLs bounded in size and checked before any entry is read.

Each CRL/OCSP exchange already had its own time limit (``revocation.timeout_seconds``), but they ran one
after another: a certificate listing twelve dead responders stalled a verification for a minute at 5 s
each, and the URLs are the CA's (or, for an untrusted chain being built, anyone's) to list. So one
:class:`RevocationBudget` covers every fetch of one verification (``Verifier.verify`` call): past its
deadline nothing more is fetched and the evidence row says why — the documented "revocation unknown"
outcome (``INDETERMINATE / TRY_LATER``), never a hang. The budget is found through a context variable so
every recorder of one verification (each chain, each PDF signature, each timestamp) shares it without
being handed it through every format's call path.

A CRL is read entry by entry (asn1crypto builds a Python object per entry): a CRL carried by the document
(XAdES ``RevocationValues``, PDF DSS ``/CRLs``) is entirely the sender's, so its size is bounded
(``revocation.max_crl_bytes``), its signature is checked against its issuer's key before anything else
is read where that issuer's certificate is at hand, and revoked serials are looked up by cryptography's
own scan instead of a dictionary of every entry.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

#: Responder URLs (OCSP) and CRL distribution points tried per certificate, each kind. Real certificates
#: list one or two; the rest of a longer list is named in the evidence row, not fetched.
MAX_URLS_PER_CERTIFICATE = 2
#: Answers (SingleResponses) in one OCSP response. certvalidator makes one container per answer and
#: compares each with all the others: 4,000 answers in one embedded response took 4 s, 50,000 (6.5 MB)
#: more than five minutes. lgsp asks about one certificate per request; a stored answer is about one.
MAX_OCSP_ANSWERS = 16
#: Default of ``revocation.deadline_seconds``: all revocation fetching of one verification.
DEFAULT_DEADLINE_SECONDS = 15.0
#: Default of ``revocation.max_crl_bytes`` (also the most one fetch may download).
DEFAULT_MAX_CRL_BYTES = 16 * 1024 * 1024


class RevocationBudget:
    """The time all revocation fetches of one verification may take together, from the first one on."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.attempts = 0
        self._ends: float | None = None
        self._lock = threading.Lock()

    def take(self, timeout: float) -> float | None:
        """The time limit for one more fetch (at most ``timeout``), or None when the deadline has passed."""
        with self._lock:
            now = time.monotonic()
            if self._ends is None:
                self._ends = now + self.seconds
            left = self._ends - now
            if left <= 0:
                return None
            self.attempts += 1
            return min(timeout, left)

    @property
    def message(self) -> str:
        return (f"not tried: the revocation deadline of {self.seconds:g} s for this verification had passed "
                "(policy revocation.deadline_seconds)")


_current: contextvars.ContextVar[RevocationBudget | None] = contextvars.ContextVar("revocation_budget",
                                                                                   default=None)


@contextmanager
def verification_budget(seconds: float) -> Iterator[RevocationBudget]:
    """One budget for everything verified inside the block; an enclosing block's budget is kept (an edXML
    packet and the PDFs it carries are one verification)."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    budget = RevocationBudget(seconds)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def current_budget(seconds: float) -> RevocationBudget:
    """The budget of the verification under way, or a new one (a chain validated on its own)."""
    return _current.get() or RevocationBudget(seconds)


def capped_urls(urls: Iterable[str]) -> tuple[list[str], str | None]:
    """The URLs to try and, when some are left out, a note saying how many."""
    listed = list(urls)
    tried = listed[:MAX_URLS_PER_CERTIFICATE]
    if len(listed) <= len(tried):
        return tried, None
    return tried, (f"{len(listed) - len(tried)} more URL(s) listed in the certificate not tried "
                   f"(at most {MAX_URLS_PER_CERTIFICATE} per certificate, signing/revlimits.py)")


def ocsp_answers_problem(response: Any) -> str | None:
    """Why an OCSP response must not be used — too many answers, or more certificates than a signature may
    carry (certvalidator adds them to the registry every later path is built from) — or None."""
    from .limits import MAX_CERTIFICATES

    if response["response_status"].native != "successful":
        return None
    basic = response["response_bytes"]["response"].parsed
    count = len(basic["tbs_response_data"]["responses"])
    if count > MAX_OCSP_ANSWERS:
        return (f"OCSP response carries {count} answers, more than the limit of {MAX_OCSP_ANSWERS} "
                "(signing/revlimits.py): not used")
    certs = len(basic["certs"] or [])
    if certs > MAX_CERTIFICATES:
        return (f"OCSP response carries {certs} certificates, more than the limit of {MAX_CERTIFICATES} "
                "(signing/limits.py): not used")
    return None


def crl_size_problem(size: int, max_bytes: int) -> str | None:
    if size <= max_bytes:
        return None
    return (f"CRL of {size} bytes is larger than the limit of {max_bytes} bytes (policy revocation.max_crl_bytes)")


@dataclass(frozen=True)
class CheckedCrl:
    """A CRL whose size was bounded and, where its issuer was known, whose signature verified."""

    native: Any  # cryptography.x509.CertificateRevocationList
    next_update: datetime | None
    signature_checked: bool

    def revocation_of(self, serial: int | None) -> tuple[bool, datetime | None]:
        """(revoked?, when) for ``serial``: one scan in cryptography's Rust code, no object per entry."""
        if serial is None:
            return False, None
        entry = self.native.get_revoked_certificate_by_serial_number(serial)
        if entry is None:
            return False, None
        return True, entry.revocation_date_utc


def check_crl(raw: bytes, issuers: Iterable[asn1_x509.Certificate], max_bytes: int) -> CheckedCrl:
    """Bound, parse (strict DER) and — when a certificate named as its issuer is known — verify a CRL
    before any of its entries is read. Raises ValueError naming what is wrong."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    signing_keys = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, dsa.DSAPublicKey, ed25519.Ed25519PublicKey,
                    ed448.Ed448PublicKey)

    problem = crl_size_problem(len(raw), max_bytes)
    if problem:
        raise ValueError(problem)
    try:
        parsed = x509.load_der_x509_crl(raw)
    except ValueError as exc:
        raise ValueError(f"CRL is not a DER-encoded CertificateList: {exc}") from exc
    issuer = asn1_crl.CertificateList.load(raw).issuer  # RFC 5280 name matching, as certvalidator does it
    candidates = [c for c in issuers if c.subject == issuer]
    checked = False
    for candidate in candidates:
        try:
            key = x509.load_der_x509_certificate(candidate.dump()).public_key()
        except ValueError:
            continue
        if not isinstance(key, signing_keys):
            continue  # no signing key: cannot have signed the list
        if parsed.is_signature_valid(key):
            checked = True
            break
    else:
        if candidates:
            raise ValueError(f"CRL signature does not verify with the key of its issuer "
                             f"{candidates[0].subject.human_friendly}: not used")
    next_update = parsed.next_update_utc
    return CheckedCrl(parsed, next_update, checked)
