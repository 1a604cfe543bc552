"""Certificate chain + revocation validation shared by every format, with a cache of validated chains.

Format verifiers call this *before* trusting any signature maths: it builds a path to a configured anchor
(pyhanko-certvalidator), checks revocation through :mod:`signing.revocation`, applies the policy's key
usage rule, and maps every failure to an ETSI sub-indication. A bus sees the same signers again and again,
so a validated chain is kept until the earliest of: the policy's cache lifetime, the next update of the
revocation data used, the certificate's expiry. Unreachable revocation (TRY_LATER) is never cached.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.policy_decl import PKIXValidationParams

from .der import fingerprint
from .policy import Check, Level, Policy
from .report import CertInfo, Indication, RevocationEvidence, SignatureReport, SubIndication
from .revocation import EmbeddedRevocation, EvidenceRecorder, RevocationCache
from .trust import TrustStore

T = TypeVar("T")

SIGNING_KEY_USAGES = {"digital_signature", "non_repudiation"}


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from sync code, also when the caller already sits inside an event loop."""

    async def main() -> T:
        return await factory()

    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if not in_loop:  # outside the except block, so library log records carry no spurious exception context
        return asyncio.run(main())
    # The worker thread runs in the caller's context: the verification's revocation budget goes along.
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, asyncio.run, main()).result()


def cert_info(cert: asn1_x509.Certificate) -> CertInfo:
    validity = cert["tbs_certificate"]["validity"]
    ku = cert.key_usage_value
    return CertInfo(
        subject=cert.subject.human_friendly,
        issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"),
        sha256=fingerprint(cert),
        not_before=validity["not_before"].native,
        not_after=validity["not_after"].native,
        key_usage=sorted(ku.native) if ku is not None else [],
    )


def add_missing_evidence(recorder: EvidenceRecorder, certs: Sequence[asn1_x509.Certificate]) -> None:
    """Every certificate below the anchor gets a revocation row, so a reader sees what was (not) checked,
    also when one piece of evidence answered for several certificates."""
    covered = {ev.certificate for ev in recorder.evidence}
    for cert in certs:
        subject = cert.subject.human_friendly
        if subject not in covered:
            recorder.evidence.append(RevocationEvidence(
                kind="none", certificate=subject, status="unknown",
                error="no CRL or OCSP response was consulted for this certificate"))


def classify(exc: Exception) -> tuple[Indication, SubIndication, str]:
    """A certvalidator failure as (indication, sub-indication, message)."""
    if isinstance(exc, cv_errors.RevokedError):
        return Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE, f"certificate revoked: {exc}"
    if isinstance(exc, cv_errors.ExpiredError | cv_errors.NotYetValidError):
        return (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE,
                f"certificate outside its validity period: {exc}")
    if isinstance(exc, cv_errors.InsufficientRevinfoError):
        return Indication.INDETERMINATE, SubIndication.TRY_LATER, f"revocation status unavailable: {exc}"
    if isinstance(exc, cv_errors.DisallowedAlgorithmError):
        return (Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
                f"weak algorithm in the chain: {exc}")
    if isinstance(exc, cv_errors.PathBuildingError) or (  # certvalidator's words when the leaf is its own root
            isinstance(exc, cv_errors.InvalidCertificateError) and "is self-signed" in str(exc)):
        return (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                f"no chain to a trusted anchor: {exc}")
    if "polic" in str(exc).lower():  # RFC 5280 policy processing (explicit policy, initial policy set)
        return (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                f"certificate policy constraints not met: {exc}")
    return (Indication.INDETERMINATE, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            f"chain validation failed: {exc}")


@dataclass
class ChainResult:
    """Outcome of chain validation: ``sub_indication`` None means the chain is acceptable."""

    indication: Indication = Indication.TOTAL_PASSED
    sub_indication: SubIndication | None = None
    message: str = ""
    chain: list[CertInfo] = field(default_factory=list)
    revocation: list[RevocationEvidence] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    from_cache: bool = False

    @property
    def ok(self) -> bool:
        return self.sub_indication is None


def check_validity_at_proven_time(report: SignatureReport, not_before: datetime, not_after: datetime) -> None:
    """Our own check: a trusted timestamp proves *when* — the signer certificate must have been valid then.

    Timestamp-aware validation paths were seen to pass a signer whose certificate expired before the
    timestamp was taken, so every format repeats this check itself.
    """
    when = report.proven_signing_time
    if when is None:
        return
    if when > not_after:
        report.fail(Indication.TOTAL_FAILED, SubIndication.EXPIRED,
                    f"signer certificate expired {not_after.isoformat()}, before the proven signing time "
                    f"{when.isoformat()}")
    elif when < not_before:
        report.fail(Indication.TOTAL_FAILED, SubIndication.EXPIRED,
                    f"signer certificate not yet valid at the proven signing time {when.isoformat()}")


def check_claimed_time(report: SignatureReport, policy: Policy, not_before: datetime, not_after: datetime) -> None:
    """The signer's own claim of when it signed should fall inside its certificate's validity (policy level)."""
    claimed = report.claimed_signing_time
    if claimed is None or not_before <= claimed <= not_after:
        return
    holder = ChainResult()
    apply_level(holder, policy, Check.SIGNING_TIME_IN_VALIDITY, Indication.INDETERMINATE,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                f"claimed signing time {claimed.isoformat()} is outside the signer certificate's validity "
                f"({not_before.isoformat()} .. {not_after.isoformat()})")
    if holder.sub_indication is not None:
        report.fail(holder.indication, holder.sub_indication, holder.message)
    report.warnings += holder.warnings
    report.infos += holder.infos


def apply_level(result: ChainResult, policy: Policy, check: Check, indication: Indication,
                sub: SubIndication, message: str) -> None:
    """Route one finding through the policy: fail, warn, inform or ignore."""
    level = policy.level(check)
    if level is Level.FAIL:
        if result.sub_indication is None:
            result.indication, result.sub_indication, result.message = indication, sub, message
    elif level is Level.WARN:
        result.warnings.append(message)
    elif level is Level.INFORM:
        result.infos.append(message)


class ChainValidator:
    """Validates signer certificates against one trust store under one policy."""

    def __init__(self, trust: TrustStore, policy: Policy | None = None,
                 revocation_cache: RevocationCache | None = None) -> None:
        self.trust = trust
        self.policy = policy or Policy()
        self.revocation_cache = revocation_cache or RevocationCache()
        self._cache: dict[tuple[str, ...], tuple[datetime, ChainResult]] = {}
        self._lock = threading.Lock()

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def context(self, intermediates: Sequence[asn1_x509.Certificate] = (), *,
                recorder: EvidenceRecorder | None = None) -> ValidationContext:
        """A certvalidator context on our anchors and fetchers (also handed to pyhanko for PDFs)."""
        require = self.policy.level(Check.REVOCATION_AVAILABLE) is Level.FAIL
        recorder = recorder or EvidenceRecorder.for_policy(self.revocation_cache, self.policy)
        recorder.add_issuers([*self.trust.anchors, *intermediates])  # who may have signed a CRL: checked first
        return ValidationContext(
            trust_roots=list(self.trust.anchors),
            other_certs=list(intermediates),
            allow_fetching=True,
            fetchers=recorder.fetchers(),
            revocation_mode="require" if require else "soft-fail",
        )

    def cached(self, leaf: asn1_x509.Certificate, intermediates: Sequence[asn1_x509.Certificate],
               embedded: EmbeddedRevocation | None = None) -> ChainResult | None:
        key = self._key(leaf, intermediates, embedded)
        with self._lock:
            hit = self._cache.get(key)
        if hit is None or datetime.now(UTC) >= hit[0]:
            return None
        # Stored already marked from_cache; evidence objects are shared and treated as immutable.
        r = hit[1]
        return ChainResult(r.indication, r.sub_indication, r.message, list(r.chain), list(r.revocation),
                           list(r.warnings), list(r.infos), True)

    @staticmethod
    def _key(leaf: asn1_x509.Certificate, intermediates: Sequence[asn1_x509.Certificate],
             embedded: EmbeddedRevocation | None = None) -> tuple[str, ...]:
        """The chain plus the revocation data the signature carries: a result built on one document's embedded
        CRLs/OCSP answers must not be reported for another document that carries other (or no) evidence."""
        evidence = ""
        if embedded:
            digest = hashlib.sha256()
            for item in (*embedded.crls, *embedded.ocsps):
                digest.update(hashlib.sha256(item.dump()).digest())
            evidence = digest.hexdigest()
        return (fingerprint(leaf), evidence, *sorted(fingerprint(c) for c in intermediates))

    def validate(self, leaf: asn1_x509.Certificate, intermediates: Sequence[asn1_x509.Certificate] = (),
                 embedded: EmbeddedRevocation | None = None) -> ChainResult:
        """Sync entry point: a cache hit costs a dict lookup, a miss runs the async validation.

        ``embedded``: revocation data carried by the signature, consulted before the network.
        """
        hit = self.cached(leaf, intermediates, embedded)
        if hit is not None:
            return hit
        return run_sync(lambda: self.avalidate(leaf, intermediates, embedded))

    async def avalidate(self, leaf: asn1_x509.Certificate, intermediates: Sequence[asn1_x509.Certificate] = (),
                        embedded: EmbeddedRevocation | None = None) -> ChainResult:
        hit = self.cached(leaf, intermediates, embedded)
        if hit is not None:
            return hit
        recorder = EvidenceRecorder.for_policy(self.revocation_cache, self.policy, embedded)
        context = self.context(intermediates, recorder=recorder)
        result = ChainResult(chain=[cert_info(leaf)])
        try:
            path = await CertificateValidator(leaf, intermediates, context,
                                              pkix_params=self.pkix_params()).async_validate_path()
            certs = list(path.iter_certs(include_root=True))
            result.chain = [cert_info(c) for c in reversed(certs)]
        except (cv_errors.PathError, cv_errors.ValidationError) as exc:
            result.indication, result.sub_indication, result.message = classify(exc)
            certs = []
        if result.ok and self.is_anchor(leaf):
            await self.check_pinned(leaf, intermediates, recorder, result)
        elif result.ok:
            add_missing_evidence(recorder, certs[1:])  # the anchor (first) needs none
        result.revocation = recorder.evidence
        if recorder.failures and result.ok:
            # Only reachable in soft-fail mode (level warn/inform/ignore): accepted without the data.
            apply_level(result, self.policy, Check.REVOCATION_AVAILABLE, Indication.INDETERMINATE,
                        SubIndication.TRY_LATER, "revocation data unreachable, accepted under soft-fail policy: "
                        + "; ".join(recorder.failures))
        if recorder.missing_nonce:
            apply_level(result, self.policy, Check.OCSP_NONCE, Indication.INDETERMINATE,
                        SubIndication.TRY_LATER, "OCSP response did not echo the request nonce (replay possible)")
        ku = leaf.key_usage_value
        if ku is not None and not (set(ku.native) & SIGNING_KEY_USAGES):
            apply_level(result, self.policy, Check.KEY_USAGE, Indication.INDETERMINATE,
                        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                        f"signer key usage {sorted(ku.native)} allows neither digitalSignature nor nonRepudiation")
        if result.sub_indication is not SubIndication.TRY_LATER and not recorder.failures:
            self._store(leaf, intermediates, result, embedded)
        return result

    def pkix_params(self) -> PKIXValidationParams | None:
        """The policy's RFC 5280 path-validation inputs for certvalidator (None: RFC 5280 defaults)."""
        rules = self.policy.path_validation
        if rules.is_default:
            return None
        return PKIXValidationParams(user_initial_policy_set=rules.initial_policy_set,
                                    initial_policy_mapping_inhibit=rules.policy_mapping_inhibited,
                                    initial_explicit_policy=rules.explicit_policy_required,
                                    initial_any_policy_inhibit=rules.any_policy_inhibited)

    def is_anchor(self, cert: asn1_x509.Certificate) -> bool:
        """The certificate itself is a configured trust anchor (a "pinned" signer)."""
        anchors = self.__dict__.get("_anchor_prints")
        if anchors is None or anchors[0] is not self.trust.fingerprint:
            anchors = (self.trust.fingerprint, frozenset(fingerprint(a) for a in self.trust.anchors))
            self.__dict__["_anchor_prints"] = anchors
        return fingerprint(cert) in anchors[1]

    async def check_pinned(self, leaf: asn1_x509.Certificate, intermediates: Sequence[asn1_x509.Certificate],
                           recorder: EvidenceRecorder, result: ChainResult) -> None:
        """A trust anchor is accepted by path validation without any check of its own; as a *signer* it must
        still be inside its validity period and not revoked (policy check ``pinned_signer``).

        Revocation needs the issuer: the path is validated again without the signer among the anchors, so
        certvalidator checks validity and CRL/OCSP exactly as for any other signer. A self-signed pinned
        certificate, or one whose issuer is not available, gets the validity check only (and a warning).
        """
        own = fingerprint(leaf)
        now = datetime.now(UTC)
        validity = leaf["tbs_certificate"]["validity"]
        not_before, not_after = validity["not_before"].native, validity["not_after"].native
        finding: tuple[Indication, SubIndication, str] | None = None
        if not not_before <= now <= not_after:
            finding = (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE,
                       f"pinned signer certificate outside its validity period ({not_before.isoformat()} .. "
                       f"{not_after.isoformat()})")
        elif leaf.self_signed == "no":
            # The leaf's issuer speaks for its revocation status (RFC 5280 §6.3), so an issuer that came with
            # the signature may anchor this second path: the operator already trusts the leaf itself.
            issuers = [c for c in intermediates if c.subject == leaf.issuer]
            others = [a for a in self.trust.anchors if fingerprint(a) != own] + issuers
            require = self.policy.level(Check.REVOCATION_AVAILABLE) is Level.FAIL
            context = ValidationContext(trust_roots=others, other_certs=list(intermediates), allow_fetching=True,
                                        fetchers=recorder.fetchers(), revocation_mode="require" if require
                                        else "soft-fail")
            try:
                await CertificateValidator(leaf, intermediates, context,
                                           pkix_params=self.pkix_params()).async_validate_path()
            except cv_errors.PathBuildingError:
                result.warnings.append("pinned signer: its issuer is not available, so its revocation status "
                                       "was not checked")
            except (cv_errors.PathError, cv_errors.ValidationError) as exc:
                indication, sub, message = classify(exc)
                finding = (indication, sub, f"pinned signer: {message}")
        if finding is not None:
            apply_level(result, self.policy, Check.PINNED_SIGNER, *finding)

    def _store(self, leaf: asn1_x509.Certificate, intermediates: Sequence[asn1_x509.Certificate],
               result: ChainResult, embedded: EmbeddedRevocation | None = None) -> None:
        expiry = datetime.now(UTC) + timedelta(seconds=self.policy.chain_cache_seconds)
        for ev in result.revocation:
            if ev.next_update is not None:
                expiry = min(expiry, ev.next_update)
        expiry = min(expiry, cert_info(leaf).not_after)
        stored = replace(result, from_cache=True, revocation=[replace(ev, from_cache=True) for ev in result.revocation])
        with self._lock:
            self._cache[self._key(leaf, intermediates, embedded)] = (expiry, stored)
