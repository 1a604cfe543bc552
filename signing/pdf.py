"""PDF signature verification (PAdES / adbe.pkcs7.detached) with pyhanko.

Official documents often carry two signatures — the person, then the organisation — as incremental
updates, so every signature is verified and each says which revision it covers and what changed after it.
pyhanko validates integrity, chain (on our anchors and revocation fetchers), key usage and embedded
timestamps; on top of that we check ourselves that the signer certificate was valid at the *proven*
signing time, because a timestamp-aware path was seen to pass a signer whose certificate had expired
before the timestamp was taken.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from typing import Any

from pyhanko.pdf_utils.decode_limits import DecodeContext, DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.misc import PdfDecodeLimitError, PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel

from .chain import (
    ChainResult,
    ChainValidator,
    apply_level,
    cert_info,
    check_claimed_time,
    check_validity_at_proven_time,
    run_sync,
)
from .failures import fail_with
from .limits import MAX_CERTIFICATES, MAX_PATH_CERTIFICATES, MAX_REVISIONS, MAX_SIGNATURES, over
from .pdfdss import DssLimitError, read_dss
from .policy import Check, Level
from .report import AlgorithmUse, CoveredPart, Indication, SignatureReport, SubIndication, TimestampInfo
from .revocation import EmbeddedRevocation, EvidenceRecorder


class PdfFormatError(ValueError):
    """Not a readable PDF (garbage, truncated, broken xref)."""


class _SharedBudget(DecodeContext):
    """One decode budget for the whole document, every revision included.

    pyhanko gives each historical revision a fresh copy of the document budget (``fresh()``), so a file of N
    incremental updates may decode N times the budget, and its default budget is 100 times the file size:
    a 64 MB upload could inflate to 6.4 GB per revision. Here ``fresh()`` returns the same context, so what
    every revision decodes is charged to one :attr:`~signing.policy.Policy.decode_budget`.
    """

    def fresh(self) -> DecodeContext:
        return self


def _decode_limits(budget: int) -> DecodeLimits:
    """pyhanko's limits for untrusted input, with the document budget (and so each stream) held to ``budget``."""
    defaults = StreamDecodeLimits()
    per_stream = StreamDecodeLimits(max_ratio=defaults.max_ratio, ratio_floor=min(defaults.ratio_floor, budget),
                                    max_output_size=min(defaults.max_output_size or budget, budget))
    return DecodeLimits(per_stream=per_stream, document_budget=DocumentDecodeBudget(base_allowance=budget,
                                                                                     max_ratio=0))


def decode_limit_message(budget: int, exc: Exception) -> str:
    return (f"the PDF's streams decode to more than the limit of {budget} bytes for one document (policy "
            f"max_decoded_bytes; a compression bomb or an unusually large document): {exc}")


def open_reader(data: bytes, budget: int) -> PdfFileReader:
    """A reader whose every decode, over all revisions, is charged to one budget of ``budget`` bytes."""
    reader = PdfFileReader(io.BytesIO(data), strict=False, decode_limits=_decode_limits(budget))
    # The constructor already charged the cross-reference streams to its own context: carry the rest over.
    shared = _SharedBudget(reader.decode_context.limits, input_size=len(data))
    shared._remaining_budget = reader.decode_context.remaining_budget
    reader._decode_context = shared  # pyhanko exposes no other way to set the context (0.38)
    return reader


def _sub(name: str) -> SubIndication:
    return SubIndication.__members__.get(name, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE)


# EdDSA keys have a fixed size by type; asn1crypto's ``bit_size`` only knows RSA/DSA/EC curves (and
# fails on Ed25519/Ed448). Sizes are those of the encoded public keys (RFC 8032).
_FIXED_KEY_SIZES = {"ed25519": 256, "ed448": 456}


def key_algorithm(public_key: Any) -> tuple[str, int | None]:
    """(policy family name, key size in bits) of an asn1crypto ``PublicKeyInfo``."""
    algorithm = public_key.algorithm  # 'rsa' | 'rsassa_pss' | 'ec' | 'dsa' | 'ed25519' | 'ed448'
    if algorithm in _FIXED_KEY_SIZES:
        return "eddsa", _FIXED_KEY_SIZES[algorithm]
    family = {"ec": "ecdsa", "rsassa_pss": "rsa"}.get(algorithm, algorithm)
    try:
        return family, int(public_key.bit_size)
    except (ValueError, TypeError, KeyError, UnboundLocalError, AttributeError):
        return family, None  # an unnamed or unknown curve: no size rather than a crash


def _byte_range_problem(sig: Any, size: int) -> str | None:
    """A /ByteRange must be four non-negative integers in order inside the file (ISO 32000-1 §12.8.1)."""
    try:
        br = [int(x) for x in sig.byte_range]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return f"signature /ByteRange is missing or not numeric: {exc}"
    if len(br) != 4:
        return f"signature /ByteRange has {len(br)} entries, not 4: {br}"
    a, la, b, lb = br
    if min(br) < 0 or a + la > b or b + lb > size:
        return f"signature /ByteRange {br} is not two ordered ranges inside the {size}-byte file"
    return None


def _open_encrypted(reader: Any) -> None:
    """An encrypted PDF with an empty user password (permissions only: "no printing", common on official
    documents) opens for everyone, so its signatures are verified; one that needs a password is refused
    with that reason instead of pyhanko's "No key available to decrypt"."""
    from pyhanko.pdf_utils.crypt import AuthStatus

    try:
        result = reader.decrypt("")
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise PdfFormatError(f"encrypted PDF that cannot be opened: {exc}") from exc
    if result.status is AuthStatus.FAILED:
        raise PdfFormatError("encrypted PDF that opens only with a password: its signatures cannot be read")


def _unsupported_signatures(reader: Any) -> list[SignatureReport]:
    """Filled signature fields pyhanko skipped (it only logs them) because their /SubFilter is not one it
    verifies (e.g. ``adbe.x509.rsa_sha1``, or none at all). Left out, such a signature vanished from the
    report — ``NO_SIGNATURE_FOUND`` for a signed document, or a pass beside it — so each is reported."""
    from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields

    known = {sub.value for sub in SigSeedSubFilter}
    reports = []
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except PdfDecodeLimitError:
        raise
    except Exception:  # the fields pyhanko did read are verified; nothing more can be said
        return []
    for index, (name, sig_obj, _field) in enumerate(fields, 1):
        try:
            subfilter = sig_obj.get_object().get("/SubFilter")
        except Exception:
            subfilter = None
        if subfilter is not None and str(subfilter) in known:
            continue
        reports.append(SignatureReport(id=f"pdf:{name or index}", format="PDF signature").fail(
            Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
            f"signature with unsupported /SubFilter {subfilter if subfilter is not None else '(missing)'}: not "
            "verified (supported: " + ", ".join(sorted(known)) + ")"))
    return reports


def _timestamp_certificates(sig: Any) -> int:
    """The most certificates one time-stamp token of the signature carries (each is a path of its own)."""
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    counts = [0]
    for signed in (True, False):
        try:
            tokens = list(extract_tst_data_iter(sig.signer_info, signed=signed))
        except Exception:  # an unreadable token is pyhanko's to report
            tokens = []
        counts += [len(token["certificates"] or []) for token in tokens]
    return max(counts)


class PdfVerifier:
    def __init__(self, validator: ChainValidator) -> None:
        self.validator = validator
        self.policy = validator.policy

    def verify(self, data: bytes) -> list[SignatureReport]:
        return run_sync(lambda: self.averify(data))

    async def averify(self, data: bytes) -> list[SignatureReport]:
        if len(data) > self.policy.max_document_bytes:
            raise PdfFormatError(f"PDF of {len(data)} bytes exceeds the limit of {self.policy.max_document_bytes}")
        budget = self.policy.decode_budget
        try:
            reader = open_reader(data, budget)
            if reader.encrypted:
                _open_encrypted(reader)
            revisions = over(reader.xrefs.total_revisions, MAX_REVISIONS, "revisions (incremental updates)")
            if revisions:  # before the signatures are even listed: every one walks the later revisions
                raise PdfFormatError(revisions)
            embedded = list(reader.embedded_signatures)
        except PdfDecodeLimitError as exc:
            raise PdfFormatError(decode_limit_message(budget, exc)) from exc
        except PdfFormatError:
            raise
        except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise PdfFormatError(f"not a readable PDF: {exc}") from exc
        problem = over(len(embedded), MAX_SIGNATURES, "PDF signatures")
        if problem:  # each runs a difference analysis over the later revisions: bounded before any runs
            raise PdfFormatError(problem)
        total_revisions = reader.xrefs.total_revisions
        reports = []
        problem = None
        try:
            evidence, dss_certs = read_dss(reader, self.policy.max_crl_bytes)
        except PdfDecodeLimitError as exc:  # not "unreadable, ignored": the document is over its budget
            raise PdfFormatError(decode_limit_message(budget, exc)) from exc
        except DssLimitError as exc:  # nor is a DSS over a bound
            raise PdfFormatError(str(exc)) from exc
        except Exception as exc:
            evidence, dss_certs = None, []
            problem = f"the document security store (DSS) is unreadable and was ignored: {exc}"
        for index, sig in enumerate(embedded, 1):
            try:
                report = await self._one(data, index, sig, total_revisions, evidence, dss_certs)
                if problem:
                    report.warnings.append(problem)
                reports.append(report)
            except Exception as exc:  # a verdict for every input (issue 12)
                name = getattr(sig, "field_name", None) or index
                reports.append(fail_with(SignatureReport(id=f"pdf:{name}", format="PAdES/CMS"), exc))
        try:
            unsupported = _unsupported_signatures(reader)
        except PdfDecodeLimitError as exc:  # a signature field left unread must not vanish from the report
            raise PdfFormatError(decode_limit_message(budget, exc)) from exc
        return reports + unsupported

    async def _one(self, data: bytes, index: int, sig: Any, total_revisions: int,
                   evidence: EmbeddedRevocation | None = None, dss_certs: list[Any] | None = None) -> SignatureReport:
        is_doc_ts = sig.sig_object_type == "/DocTimeStamp"
        report = SignatureReport(id=f"pdf:{sig.field_name or index}",
                                 format="PDF document timestamp" if is_doc_ts else "PAdES/CMS")
        recorder = EvidenceRecorder.for_policy(self.validator.revocation_cache, self.policy, evidence)
        recorder.add_issuers(sig.other_embedded_certs)  # the CMS certificates: a CRL's issuer is checked first
        context = self.validator.context(dss_certs or (), recorder=recorder)
        ku_required = self.policy.level(Check.KEY_USAGE) is Level.FAIL
        carried = len(sig.other_embedded_certs) + 1  # and the signer's own
        problem = (_byte_range_problem(sig, len(data))
                   or over(carried, MAX_CERTIFICATES, "certificates in one PDF signature's CMS")
                   or over(_timestamp_certificates(sig), MAX_CERTIFICATES, "certificates in one time-stamp token")
                   or over(carried + len(dss_certs or ()), MAX_PATH_CERTIFICATES,
                           "certificates in one PDF signature's CMS and the DSS together"))
        if problem:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, problem)
        try:
            if is_doc_ts:
                status: Any = await async_validate_pdf_timestamp(sig, validation_context=context)
            else:
                status = await async_validate_pdf_signature(
                    sig, signer_validation_context=context,
                    key_usage_settings=KeyUsageConstraints(
                        key_usage={"digital_signature", "non_repudiation"} if ku_required else set(),
                        match_all_key_usages=False),
                )
        except PdfDecodeLimitError as exc:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                               decode_limit_message(self.policy.decode_budget, exc))
        except (SignatureValidationError, PdfError, ValueError, KeyError) as exc:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"signature unreadable: {exc}")
        report.revocation = recorder.evidence
        if recorder.failures and self.policy.level(Check.REVOCATION_AVAILABLE) is not Level.FAIL:
            self._level(report, Check.REVOCATION_AVAILABLE, SubIndication.TRY_LATER,
                        "revocation data unreachable, accepted under soft-fail policy: " + "; ".join(recorder.failures))
        signer = status.signing_cert
        report.signer = cert_info(signer)
        path = status.validation_path
        report.chain = ([cert_info(c) for c in reversed(list(path.iter_certs(include_root=True)))]
                        if path is not None else [report.signer])
        self._coverage(report, data, sig, status, total_revisions)
        self._algorithms(report, status, signer)
        if not is_doc_ts:
            report.claimed_signing_time = status.signer_reported_dt
        self._timestamps(report, status, is_doc_ts)
        if not status.intact:
            report.fail(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE,
                        "the signed bytes do not match the digest in the signature")
        elif not status.valid:
            report.fail(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE,
                        "the signature value does not verify with the signer's key")
        indic = status.trust_problem_indic
        if indic is not None:
            indication = Indication.TOTAL_FAILED if isinstance(indic, AdESFailure) else Indication.INDETERMINATE
            sub, message = _sub(indic.name), f"signer certificate: {indic.name}"
            if sub is SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE and recorder.failures:
                # pyhanko files "no revocation data obtainable" under the general failure; say why.
                sub, message = SubIndication.TRY_LATER, "revocation status unavailable: " + "; ".join(recorder.failures)
            report.fail(indication, sub, message)
        if recorder.missing_nonce:
            self._level(report, Check.OCSP_NONCE, SubIndication.TRY_LATER,
                        "OCSP response did not echo the request nonce (replay possible)")
        if self.validator.pkix_params() is not None and status.trust_problem_indic is None:
            # pyhanko's PDF API takes no RFC 5280 inputs, so a policy that sets them gets its own path check.
            constrained = await self.validator.avalidate(signer, [*sig.other_embedded_certs, *(dss_certs or [])],
                                                         evidence)
            if not constrained.ok and constrained.sub_indication is not None:
                report.fail(constrained.indication, constrained.sub_indication, constrained.message)
        if self.validator.is_anchor(signer):  # pyhanko, like certvalidator, checks nothing of an anchor
            pinned = ChainResult()
            await self.validator.check_pinned(signer, list(sig.other_embedded_certs), recorder, pinned)
            report.revocation = recorder.evidence
            report.warnings += pinned.warnings
            report.infos += pinned.infos
            if pinned.sub_indication is not None:
                report.fail(pinned.indication, pinned.sub_indication, pinned.message)
        validity = signer["tbs_certificate"]["validity"]
        check_validity_at_proven_time(report, validity["not_before"].native, validity["not_after"].native)
        check_claimed_time(report, self.policy, validity["not_before"].native, validity["not_after"].native)
        if not report.failed:
            report.indication, report.sub_indication = Indication.TOTAL_PASSED, None
        return report

    def _level(self, report: SignatureReport, check: Check, sub: SubIndication, message: str,
               indication: Indication = Indication.INDETERMINATE) -> None:
        holder = ChainResult()
        apply_level(holder, self.policy, check, indication, sub, message)
        if holder.sub_indication is not None:
            report.fail(holder.indication, holder.sub_indication, message)
        report.warnings += holder.warnings
        report.infos += holder.infos

    @staticmethod
    def _coverage(report: SignatureReport, data: bytes, sig: Any, status: Any, total_revisions: int) -> None:
        br = [int(x) for x in sig.byte_range]
        signed = data[br[0]:br[0] + br[1]] + data[br[2]:br[2] + br[3]]
        revision = sig.signed_revision + 1
        report.covered.append(CoveredPart(
            f"byte ranges {br} = revision {revision} of {total_revisions} (everything except the signature value)",
            hashlib.sha256(signed).hexdigest(), len(signed)))
        report.signed_content = data[: br[2] + br[3]]
        coverage = status.coverage
        if coverage == SignatureCoverageLevel.ENTIRE_FILE:
            report.infos.append("signature covers the entire file")
        elif coverage == SignatureCoverageLevel.ENTIRE_REVISION:
            level = getattr(status, "modification_level", None)
            what = level.name if level is not None else "unknown"
            report.not_covered.append(f"revisions {revision + 1}..{total_revisions} added after signing "
                                      f"(modification level {what})")
            if getattr(status, "docmdp_ok", True) is False:
                report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                            f"changes after signing are not permitted ({what})")
        else:
            report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                        f"signature coverage is {getattr(coverage, 'name', coverage)}: the byte range does not "
                        "cover a whole revision")

    def _algorithms(self, report: SignatureReport, status: Any, signer: Any) -> None:
        now = datetime.now(UTC)
        md = str(status.md_algorithm).lower().replace("_", "")
        mech = str(getattr(status, "pkcs7_signature_mechanism", "") or "").lower().replace("_", "-")
        family, key_size = key_algorithm(signer.public_key)
        uses = [AlgorithmUse("digest", md), AlgorithmUse("signature", f"{family}-{md}" if not mech else mech),
                AlgorithmUse("key", family, key_size)]
        for use in uses:
            use.weak = self.policy.is_weak(use.name, now, use.key_size if use.role == "key" else None)
            if use.weak:
                self._level(report, Check.WEAK_ALGORITHM, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
                            f"{use.role} algorithm {use.name} is weak under policy {self.policy.label}")
        report.algorithms += uses

    def _timestamps(self, report: SignatureReport, status: Any, is_doc_ts: bool) -> None:
        if is_doc_ts:
            report.proven_signing_time = status.timestamp
            report.timestamps.append(TimestampInfo("document-timestamp", status.timestamp, status.valid,
                                                   status.trusted, status.signing_cert.subject.human_friendly))
            return
        for kind, ts in (("signature-timestamp", status.timestamp_validity),
                         ("content-timestamp", status.content_timestamp_validity)):
            if ts is None:
                continue
            report.timestamps.append(TimestampInfo(kind, ts.timestamp, ts.valid and ts.intact, ts.trusted,
                                                   ts.signing_cert.subject.human_friendly))
            if ts.valid and ts.intact and ts.trusted:
                if kind == "signature-timestamp":
                    report.proven_signing_time = ts.timestamp
            else:
                self._level(report, Check.TIMESTAMP_INVALID, SubIndication.SIG_CONSTRAINTS_FAILURE,
                            f"{kind} does not validate (valid={ts.valid}, trusted={ts.trusted})")
