"""CRL and OCSP fetching for pyhanko-certvalidator, with caching and a record of what was used.

certvalidator checks revocation data (signatures, freshness, issuer matching); this module only decides
*how it is obtained*: CRLs are cached process-wide until their ``nextUpdate`` so a busy bus downloads each
CA's list once per period; OCSP requests carry a nonce and the response is cached until its
``nextUpdate``; every fetch, hit and failure is recorded, because the report must say which evidence was
used and whether the revocation service was unreachable (``TRY_LATER``). Issuer certificates are never
fetched from AIA URLs: intermediates must come with the signature or the trust store, so a hostile
certificate cannot make the bus fetch arbitrary URLs. What fetching may cost — one deadline for all fetches
of a verification, at most a few URLs per certificate, CRLs bounded and signature-checked before their
entries are read — is :mod:`signing.revlimits`; one HTTP exchange is :mod:`signing.revhttp`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

from asn1crypto import cms, crl, ocsp, x509
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.fetchers.api import CertificateFetcher, CRLFetcher, Fetchers, OCSPFetcher
from pyhanko_certvalidator.fetchers.common_utils import format_ocsp_request, process_ocsp_response_data
from pyhanko_certvalidator.util import get_ocsp_urls, get_relevant_crl_dps, issuer_serial

from .policy import Policy
from .report import RevocationEvidence
from .revhttp import MAX_REVINFO_BYTES as MAX_REVINFO_BYTES
from .revhttp import fetch
from .revlimits import (
    DEFAULT_DEADLINE_SECONDS,
    CheckedCrl,
    RevocationBudget,
    capped_urls,
    check_crl,
    current_budget,
    ocsp_answers_problem,
)

Clock = Callable[[], datetime]
AnyCert: TypeAlias = x509.Certificate | cms.AttributeCertificateV2


@dataclass
class _CachedCrl:
    crl: crl.CertificateList
    checked: CheckedCrl

    @property
    def next_update(self) -> datetime | None:
        return self.checked.next_update


@dataclass
class _CachedOcsp:
    response: ocsp.OCSPResponse
    next_update: datetime | None
    status: str
    revocation_time: datetime | None
    this_update: datetime | None
    nonce_checked: bool


@dataclass
class EmbeddedRevocation:
    """CRLs and OCSP responses carried by the signature itself (XAdES ``RevocationValues``, PAdES DSS/VRI).

    They make long-term signatures verifiable offline: the fetchers consult them first, matched to the
    certificate by issuer and serial, and only go to the network when nothing fresh is embedded.
    """

    crls: list[crl.CertificateList] = field(default_factory=list)
    ocsps: list[ocsp.OCSPResponse] = field(default_factory=list)
    source: str = "embedded"

    def __bool__(self) -> bool:
        return bool(self.crls or self.ocsps)


def _now() -> datetime:
    return datetime.now(UTC)


def crl_issued_by_issuer_of(certificate_list: crl.CertificateList, cert: AnyCert) -> bool:
    """A direct CRL speaks for a certificate only when its issuer is the certificate's issuer."""
    return isinstance(cert, x509.Certificate) and certificate_list.issuer == cert.issuer


def ocsp_single_response(response: ocsp.OCSPResponse, cert: AnyCert) -> Any | None:
    """The SingleResponse about ``cert`` (issuer name hash + serial), or None; never just the first one."""
    if not isinstance(cert, x509.Certificate) or response["response_status"].native != "successful":
        return None
    basic = response["response_bytes"]["response"].parsed
    for single in basic["tbs_response_data"]["responses"]:
        cert_id = single["cert_id"]
        if cert_id["serial_number"].native != cert.serial_number:
            continue
        algorithm = cert_id["hash_algorithm"]["algorithm"].native
        if hashlib.new(algorithm, cert.issuer.dump()).digest() == cert_id["issuer_name_hash"].native:
            return single
    return None


class RevocationCache:
    """Process-wide cache of CRLs (by URL) and OCSP responses (by issuer+serial), valid until nextUpdate."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._crls: dict[str, _CachedCrl] = {}
        self._ocsp: dict[Any, _CachedOcsp] = {}
        self.downloads = 0

    def _fresh(self, next_update: datetime | None) -> bool:
        # A CRL without nextUpdate gives no freshness promise: never serve it from cache.
        return next_update is not None and self.clock() < next_update

    def get_crl(self, url: str) -> _CachedCrl | None:
        with self._lock:
            entry = self._crls.get(url)
        return entry if entry and self._fresh(entry.next_update) else None

    def put_crl(self, url: str, entry: _CachedCrl) -> None:
        with self._lock:
            self._crls[url] = entry
            self.downloads += 1

    def get_ocsp(self, key: Any) -> _CachedOcsp | None:
        with self._lock:
            entry = self._ocsp.get(key)
        return entry if entry and self._fresh(entry.next_update) else None

    def put_ocsp(self, key: Any, entry: _CachedOcsp) -> None:
        with self._lock:
            self._ocsp[key] = entry
            self.downloads += 1

    def clear(self) -> None:
        with self._lock:
            self._crls.clear()
            self._ocsp.clear()


def _subject(cert: x509.Certificate | cms.AttributeCertificateV2) -> str:
    return cert.subject.human_friendly if isinstance(cert, x509.Certificate) else "attribute certificate"


class EvidenceRecorder:
    """One validation's view: builds certvalidator ``Fetchers`` and records evidence and failures."""

    def __init__(self, cache: RevocationCache, timeout: float = 5.0,
                 embedded: EmbeddedRevocation | None = None, *, budget: RevocationBudget | None = None,
                 max_crl_bytes: int = MAX_REVINFO_BYTES) -> None:
        self.cache = cache
        self.timeout = timeout
        self.embedded = embedded or EmbeddedRevocation()
        self.budget = budget or current_budget(DEFAULT_DEADLINE_SECONDS)
        self.max_crl_bytes = max_crl_bytes
        #: Certificates that may have issued a CRL (anchors, intermediates): its signature is checked first.
        self.issuers: list[x509.Certificate] = []
        self.evidence: list[RevocationEvidence] = []
        self.failures: list[str] = []
        self.missing_nonce = False

    @classmethod
    def for_policy(cls, cache: RevocationCache, policy: Policy,
                   embedded: EmbeddedRevocation | None = None) -> EvidenceRecorder:
        """A recorder under ``policy``'s time limits, sharing the budget of the verification under way."""
        return cls(cache, policy.revocation_timeout, embedded, budget=current_budget(policy.revocation_deadline),
                   max_crl_bytes=policy.max_crl_bytes)

    def add_issuers(self, certs: Iterable[Any]) -> None:
        known = {c.dump() for c in self.issuers}
        self.issuers += [c for c in certs if isinstance(c, x509.Certificate) and c.dump() not in known]

    def fetchers(self) -> Fetchers:
        return Fetchers(ocsp_fetcher=_OcspFetcher(self), crl_fetcher=_CrlFetcher(self), cert_fetcher=_NoCertFetcher())

    def record(self, evidence: RevocationEvidence) -> None:
        self.evidence.append(evidence)
        if evidence.error:
            self.failures.append(f"{evidence.kind} for {evidence.certificate}: {evidence.error}")


class _OcspFetcher(OCSPFetcher):
    def __init__(self, recorder: EvidenceRecorder) -> None:
        self.rec = recorder
        self._results: dict[Any, ocsp.OCSPResponse] = {}

    async def fetch(self, cert: AnyCert, authority: Authority) -> ocsp.OCSPResponse:
        key = (issuer_serial(cert), authority.hashable)
        who = _subject(cert)
        for stored in self.rec.embedded.ocsps:
            problem = ocsp_answers_problem(stored)
            if problem:  # not evidence, and never handed to certvalidator
                self.rec.evidence.append(RevocationEvidence(kind="OCSP", certificate=who, status="unknown",
                                                            source=self.rec.embedded.source, error=problem))
                continue
            single = ocsp_single_response(stored, cert)
            next_update = single["next_update"].native if single is not None else None
            if single is None or (next_update is not None and next_update <= _now()):
                continue  # not about this certificate, or stale: try the next one, then the network
            entry = _summarise_ocsp(stored, cert)
            self._results[key] = stored
            self.rec.record(RevocationEvidence(
                kind="OCSP", certificate=who, status=entry.status, source=self.rec.embedded.source,
                this_update=entry.this_update, next_update=entry.next_update,
                revocation_time=entry.revocation_time))
            return stored
        cached = self.rec.cache.get_ocsp(key)
        if cached is not None:
            self._results[key] = cached.response
            self.rec.record(RevocationEvidence(
                kind="OCSP", certificate=who, status=cached.status, this_update=cached.this_update,
                next_update=cached.next_update, revocation_time=cached.revocation_time, from_cache=True,
                nonce_checked=cached.nonce_checked))
            return cached.response
        urls, skipped = capped_urls(get_ocsp_urls(cert))
        if not urls:
            raise cv_errors.OCSPFetchError("certificate names no OCSP responder")
        request = format_ocsp_request(cert, authority, certid_hash_algo="sha1", request_nonces=True)
        last_error = "no responder answered"
        for url in urls:
            limit = self.rec.budget.take(self.rec.timeout)
            if limit is None:
                last_error = f"{url}: {self.rec.budget.message}"
                break
            try:
                body = await fetch("POST", url, limit, request.dump(), "application/ocsp-request")
                response = process_ocsp_response_data(body, ocsp_request=request, ocsp_url=url)
                problem = ocsp_answers_problem(response)
                if problem:
                    raise ValueError(problem)
                entry = _summarise_ocsp(response, cert)
            except Exception as exc:  # network, HTTP status, parse, nonce mismatch, wrong cert: "unavailable"
                last_error = f"{url}: {exc}"
                continue
            if not entry.nonce_checked:
                self.rec.missing_nonce = True
            self.rec.cache.put_ocsp(key, entry)
            self._results[key] = response
            self.rec.record(RevocationEvidence(
                kind="OCSP", certificate=who, status=entry.status, source=url, this_update=entry.this_update,
                next_update=entry.next_update, revocation_time=entry.revocation_time,
                nonce_checked=entry.nonce_checked))
            return response
        error = "; ".join(filter(None, (last_error, skipped)))
        self.rec.record(RevocationEvidence(kind="OCSP", certificate=who, status="unavailable",
                                           source=", ".join(urls), error=error))
        raise cv_errors.OCSPFetchError(last_error)

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return list(self._results.values())

    def fetched_responses_for_cert(self, cert: AnyCert) -> Iterable[ocsp.OCSPResponse]:
        target = issuer_serial(cert)
        return [resp for (subj, _), resp in self._results.items() if subj == target]


def _summarise_ocsp(response: ocsp.OCSPResponse, cert: AnyCert) -> _CachedOcsp:
    single = ocsp_single_response(response, cert)
    if single is None:
        raise ValueError("OCSP response holds no answer for this certificate (issuer and serial)")
    status_choice = single["cert_status"]
    status = status_choice.name  # good | revoked | unknown
    revocation_time = status_choice.chosen["revocation_time"].native if status == "revoked" else None
    return _CachedOcsp(
        response=response,
        next_update=single["next_update"].native,
        status=status,
        revocation_time=revocation_time,
        this_update=single["this_update"].native,
        nonce_checked=response.nonce_value is not None,
    )


class _CrlFetcher(CRLFetcher):
    def __init__(self, recorder: EvidenceRecorder) -> None:
        self.rec = recorder
        self._by_cert: dict[Any, list[crl.CertificateList]] = {}

    def _row(self, cert: AnyCert, entry: _CachedCrl, source: str, from_cache: bool = False) -> None:
        serial = cert.serial_number if isinstance(cert, x509.Certificate) else None
        revoked, when = entry.checked.revocation_of(serial)
        self.rec.record(RevocationEvidence(
            kind="CRL", certificate=_subject(cert), status="revoked" if revoked else "good", source=source,
            this_update=entry.crl["tbs_cert_list"]["this_update"].native, next_update=entry.next_update,
            revocation_time=when, from_cache=from_cache))

    def _embedded(self, cert: AnyCert) -> list[crl.CertificateList]:
        """The fresh embedded CRLs of the certificate's issuer whose signature is not shown to be bad."""
        usable = []
        for stored in self.rec.embedded.crls:
            if not crl_issued_by_issuer_of(stored, cert) or (
                    stored["tbs_cert_list"]["next_update"].native or _now()) <= _now():
                continue
            try:
                entry = _CachedCrl(stored, check_crl(stored.dump(), self.rec.issuers, self.rec.max_crl_bytes))
            except ValueError as exc:  # forged or oversized: not evidence; the network may still answer
                self.rec.evidence.append(RevocationEvidence(kind="CRL", certificate=_subject(cert), status="unknown",
                                                            source=self.rec.embedded.source, error=str(exc)))
                continue
            self._row(cert, entry, self.rec.embedded.source)
            usable.append(stored)
        return usable

    async def fetch(self, cert: x509.Certificate | cms.AttributeCertificateV2, *,
                    use_deltas: bool | None = None) -> Iterable[crl.CertificateList]:
        who = _subject(cert)
        embedded = self._embedded(cert)
        if embedded:
            self._by_cert[issuer_serial(cert)] = embedded
            return embedded
        urls, skipped = capped_urls(dp.url for dp in get_relevant_crl_dps(cert, use_deltas=False) if dp.url)
        if not urls:
            raise cv_errors.CRLFetchError("certificate names no CRL distribution point")
        results: list[crl.CertificateList] = []
        errors: list[str] = [skipped] if skipped else []
        for url in urls:
            entry = self.rec.cache.get_crl(url)
            from_cache = entry is not None
            if entry is None:
                limit = self.rec.budget.take(self.rec.timeout)
                try:
                    if limit is None:
                        raise TimeoutError(self.rec.budget.message)
                    body = await fetch("GET", url, limit, max_bytes=self.rec.max_crl_bytes,
                                       bound=" (policy revocation.max_crl_bytes)")
                    entry = _CachedCrl(crl.CertificateList.load(body),
                                       check_crl(body, self.rec.issuers, self.rec.max_crl_bytes))
                except Exception as exc:
                    errors.append(f"{url}: {exc}")
                    self.rec.record(RevocationEvidence(kind="CRL", certificate=who, status="unavailable",
                                                       source=url, error=str(exc) or type(exc).__name__))
                    continue
                self.rec.cache.put_crl(url, entry)
            results.append(entry.crl)
            if not crl_issued_by_issuer_of(entry.crl, cert):
                # Serial numbers are unique per issuer only: another CA's list says nothing about this one.
                self.rec.record(RevocationEvidence(
                    kind="CRL", certificate=who, status="unknown", source=url,
                    this_update=entry.crl["tbs_cert_list"]["this_update"].native, next_update=entry.next_update,
                    from_cache=from_cache,
                    error=f"CRL issued by {entry.crl.issuer.human_friendly}, not by the certificate's issuer"))
                continue
            self._row(cert, entry, url, from_cache)
        if not results:
            raise cv_errors.CRLFetchError("; ".join(errors))
        self._by_cert[issuer_serial(cert)] = results
        return results

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        return [c for crls in self._by_cert.values() for c in crls]

    def fetched_crls_for_cert(self, cert: AnyCert) -> Iterable[crl.CertificateList]:
        return self._by_cert[issuer_serial(cert)]


class _NoCertFetcher(CertificateFetcher):
    """Never follows AIA caIssuers: see the module docstring."""

    async def fetch_cert_issuers(self, cert: Any) -> AsyncGenerator[x509.Certificate, None]:
        return
        yield  # pragma: no cover - makes this an async generator

    async def fetch_crl_issuers(self, certificate_list: Any) -> AsyncGenerator[x509.Certificate, None]:
        return
        yield  # pragma: no cover

    def fetched_certs(self) -> Iterable[x509.Certificate]:
        return []
