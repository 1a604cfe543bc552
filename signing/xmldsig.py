"""XML signature verification (XMLDSig, XAdES-BES) for edXML packets and SOAP envelopes.

Order matters and is the point of this module:
1. parse with a hardened parser (no DTD, no entities, no network) — XXE and entity bombs stop here;
2. take the signer certificate from KeyInfo and validate chain + revocation (:mod:`signing.chain`);
3. verify the maths with signxml, *pinned* to that certificate, so signxml never picks its own trust;
4. decide coverage only from what signxml returns as signed; the caller's required parts must be in it,
   so a wrapped document (signed element moved, unsigned twin with the same id) cannot pass.
The real-world edXML variants of QCVN 102:2016 (Signature without the XML-DSig namespace, rsa-sha1, an
empty ``DigitalSignature`` element) are accepted, but each is reported — never silently.

This module holds the verifier (the order above and the report); its parts are :mod:`signing.xmltree`
(parse, variants), :mod:`signing.xmlkeyinfo` (the signer's certificates and XAdES values),
:mod:`signing.xmlrefs` (what references cover) and :mod:`signing.xmlsignxml` (the signxml binding).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from signxml import SignatureConfiguration
from signxml.exceptions import InvalidDigest, InvalidInput, InvalidSignature, SignXMLException

from .chain import ChainResult, ChainValidator, apply_level, check_claimed_time, check_validity_at_proven_time
from .failures import fail_with
from .policy import Check
from .report import AlgorithmUse, CoveredPart, Indication, SignatureReport, SubIndication
from .timestamps import timestamp_status
from .xmlkeyinfo import _alg_name, _decode_certs, _KeyInfoCerts, _xades_values, missing_signer_reason
from .xmlparts import check_structure as _check_structure
from .xmlparts import signature_parts
from .xmlrefs import (
    _C14N_10,
    _C14N_METHODS,
    DetachedDocumentMissing,
    _c14n,
    _covered_sha256,
    _without_signatures,
    detached_resolver,
)
from .xmlsignxml import (
    _ALLOWED_DIGESTS,
    _ALLOWED_METHODS,
    BASE64_TRANSFORM,
    SUPPORTED_TRANSFORMS,
    _XAdES,
    _XmlDsig,
    top_level_signatures,
)
from .xmltree import (
    DEFAULT_NAMESPACES,
    DS_NS,
    XADES_NS,
    _ascii_compatible,
    _local,
    element_ids,
    normalise_variants,
    parse,
)
from .xmltree import XmlFormatError as XmlFormatError
from .xmluncovered import edxml_attachments, flag_uncovered, manifest_documents

#: What a report says once the maths passed, whatever the trust verdict.
INTACT = "cryptographically intact: the signature value and every reference digest verify with the signer's key"


class XmlVerifier:
    """Verifies the XML signatures of one document against a :class:`ChainValidator`."""

    def __init__(self, validator: ChainValidator) -> None:
        self.validator = validator
        self.policy = validator.policy
        self._certs: dict[tuple[str, ...], _KeyInfoCerts] = {}

    def _signer_certs(self, raw: tuple[str, ...]) -> _KeyInfoCerts | None:
        """Decoded KeyInfo certificates, cached: a bus sees the same signers over and over."""
        hit = self._certs.get(raw)  # keyed on the text as sent: no whitespace stripping on the hot path
        if hit is None:
            texts = tuple(t for t in ("".join(text.split()) for text in raw) if t)
            if not texts:
                return None
            hit = _decode_certs(texts)
            if len(self._certs) > 1024:
                self._certs.clear()
            self._certs[raw] = hit
        return hit

    def verify(self, data: bytes, *, must_cover: Sequence[str] = ("/*",),
               namespaces: Mapping[str, str] | None = None,
               detached: Mapping[str, bytes] | None = None) -> tuple[list[SignatureReport], list[str]]:
        """Return one report per signature plus document-level notes. Raises :class:`XmlFormatError`."""
        ns = {**DEFAULT_NAMESPACES, **(namespaces or {})}
        root = parse(data, self.policy.max_document_bytes)
        root, notes = normalise_variants(root)
        doc_notes: list[str] = []
        variant_notes = [n for n in notes if n.startswith("Signature element")]
        doc_notes += [n for n in notes if not n.startswith("Signature element")]
        # signxml's own copies re-parse with xml:id checking (an invalid or repeated xml:id is refused there);
        # only a tree without any may skip them.
        pristine = not variant_notes and b"xml:id" not in data and _ascii_compatible(data)
        signatures = top_level_signatures(root)
        _check_structure(signatures)
        reports = []
        for index, signature in enumerate(signatures):
            try:
                report = self._verify_one(root, signature, index, must_cover, ns, detached or {},
                                          pristine=pristine)
            except Exception as exc:  # a verdict for every input (issue 12)
                report = fail_with(SignatureReport(id=signature.get("Id") or f"xml-signature-{index + 1}",
                                                   format="XMLDSig"), exc)
            for note in variant_notes:
                self._non_conformant(report, note)
            self._uncovered(root, signature, report)
            reports.append(report)
        return reports, doc_notes

    def _non_conformant(self, report: SignatureReport, note: str) -> None:
        level = self.policy.level(Check.NON_CONFORMANT_FORMAT)
        if level.value == "fail":
            report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, note)
        elif level.value == "warn":
            report.warnings.append(note)
        elif level.value == "inform":
            report.infos.append(note)

    def _verify_one(self, root: etree._Element, signature: etree._Element, index: int,
                    must_cover: Sequence[str], ns: Mapping[str, str],
                    detached: Mapping[str, bytes], *, pristine: bool = False) -> SignatureReport:
        parts = signature_parts(signature)
        is_xades = parts.is_xades
        report = SignatureReport(id=signature.get("Id") or f"xml-signature-{index + 1}",
                                 format="XAdES-BES" if is_xades else "XMLDSig")
        timestamp_el = (signature.find(".//xades:UnsignedSignatureProperties/xades:SignatureTimeStamp",
                                       namespaces={"xades": XADES_NS}) if is_xades else None)
        if timestamp_el is not None:
            report.format = "XAdES-T"
        now = datetime.now(UTC)
        report.algorithms.append(AlgorithmUse("signature", _alg_name(parts.signature_method)))
        for part in parts.references:
            report.algorithms.append(AlgorithmUse("reference-digest", _alg_name(part.digest_method)))
        try:
            certs = self._signer_certs(parts.certificate_texts)
        except ValueError as exc:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                               f"KeyInfo certificate is not decodable: {exc}")
        unsupported = sorted({str(t) for ref in parts.references for t in ref.transforms} - SUPPORTED_TRANSFORMS)
        if certs is None:  # say why (HMAC, RetrievalMethod, bare key, ...), and refuse odd transforms all the same
            report.fail(Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                        missing_signer_reason(signature, parts.signature_method))
            return self._unsupported(report, unsupported) if unsupported else report
        leaf = certs.leaf
        report.algorithms.append(AlgorithmUse("key", *certs.key))
        for alg in report.algorithms:
            alg.weak = self.policy.is_weak(alg.name, now, alg.key_size)
            if alg.weak:
                self._weak(report, alg)
        # 1) chain and revocation first
        try:
            embedded, extra_certs = _xades_values(signature, self.policy.max_crl_bytes) if is_xades else (None, ())
        except ValueError as exc:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                               f"XAdES certificate or revocation values unusable: {exc}")
        if embedded:
            report.infos.append(f"revocation values embedded in the signature: {len(embedded.crls)} CRL(s), "
                                f"{len(embedded.ocsps)} OCSP response(s)")
        chain = self.validator.validate(certs.asn1_leaf, certs.asn1_intermediates + extra_certs, embedded)
        report.chain, report.revocation = chain.chain, chain.revocation
        report.signer = chain.chain[0] if chain.chain else None
        report.warnings += chain.warnings
        report.infos += chain.infos
        if not chain.ok and chain.sub_indication is not None:
            report.fail(chain.indication, chain.sub_indication, chain.message)
        if unsupported:  # signxml would skip them and digest something else than the signer did
            return self._unsupported(report, unsupported)
        # 2) the maths, pinned to the validated certificate; validity is the chain's job, so give signxml
        # a moment inside the certificate's validity instead of letting it re-judge expiry.
        moment = min(max(now, certs.not_before), certs.not_after)
        config = SignatureConfiguration(expect_references=True, signature_methods=_ALLOWED_METHODS,
                                        digest_algorithms=_ALLOWED_DIGESTS, verification_time=moment)
        verifier: _XAdES | _XmlDsig = _XAdES() if is_xades else _XmlDsig()
        verifier.target_index = index
        verifier.pristine_tree = pristine  # parsed by us and not rewritten: signxml may copy it in one step
        external = parts.external_uris
        try:
            results: Any = verifier.verify(root, x509_cert=leaf, expect_config=config, id_attribute=None,
                                           uri_resolver=detached_resolver(detached, external) if external
                                           else None)
        except DetachedDocumentMissing as exc:
            return report.fail(Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND,
                               f"the signature covers the external document {exc.uri!r}, which was not supplied "
                               "(pass it with --detached FILE / the 'detached' form field)")
        except InvalidDigest as exc:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, f"digest mismatch: {exc}")
        except InvalidInput as exc:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"invalid signature input: {exc}")
        except InvalidSignature as exc:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE,
                               f"signature value does not verify with the signer's key ({str(exc).rstrip(': ')})")
        except etree.DocumentInvalid as exc:  # signxml validates XAdES against its schema
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                               f"signature structure is not schema-valid: {exc}")
        except etree.LxmlError as exc:  # e.g. XMLSyntaxError when signxml re-parses a fragment
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"malformed signed XML: {exc}")
        except (SignXMLException, ValueError, TypeError) as exc:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"unsupported signature: {exc}")
        results = results if isinstance(results, list) else [results]
        report.infos.append(INTACT)  # said outright: an INDETERMINATE for trust or expiry is not a broken seal
        if timestamp_el is not None:
            self._signature_timestamp(report, signature, timestamp_el)
            check_validity_at_proven_time(report, certs.not_before, certs.not_after)
        check_claimed_time(report, self.policy, certs.not_before, certs.not_after)
        signed_fragments: list[tuple[str, Any]] = []
        for ref, result in zip(parts.references, results, strict=False):
            uri = ref.uri or ""
            signed_xml = result.signed_xml
            covered_sha = _covered_sha256(ref.digest_method, ref.digest_value, result.signed_data)
            if signed_xml is not None and signed_xml.tag == f"{{{XADES_NS}}}SignedProperties":
                report.covered.append(CoveredPart("XAdES SignedProperties (signing time, signing certificate)",
                                                  covered_sha, len(result.signed_data)))
                self._xades_properties(report, signed_xml)
                continue
            if BASE64_TRANSFORM in ref.transforms:
                # What was digested is the decoded text of the referenced node, not the node: it proves
                # nothing about the document's elements (its parse must not pass for the document).
                report.covered.append(CoveredPart(f"base64-decoded text of the node at URI=\"{uri}\" (not the "
                                                  "node itself)", covered_sha, len(result.signed_data)))
                signed_fragments.append((uri, None))
                continue
            if uri == "":
                label = f"whole document <{_local(root.tag)}> except the Signature (URI=\"\")"
            elif not uri.startswith("#"):
                label = f"external (detached) document URI=\"{uri}\""
            else:
                label = f"element <{_local(signed_xml.tag) if signed_xml is not None else '?'}> URI=\"{uri}\""

            report.covered.append(CoveredPart(label, covered_sha, len(result.signed_data)))
            if report.signed_content is None:
                report.signed_content = result.signed_data
            signed_fragments.append((uri, signed_xml))
        for xpath in must_cover:
            problem = self._check_covered(root, xpath, ns, signed_fragments)
            if problem:
                report.fail(Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND, problem)
        if not report.failed:
            report.indication, report.sub_indication = Indication.TOTAL_PASSED, None
        return report

    @staticmethod
    def _unsupported(report: SignatureReport, transforms: list[str]) -> SignatureReport:
        return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                           f"unsupported Reference transform(s) {', '.join(transforms)}: the signature "
                           "cannot be verified (XPath, XSLT and other transforms are never executed)")

    def _signature_timestamp(self, report: SignatureReport, signature: etree._Element,
                             timestamp_el: etree._Element) -> None:
        """Validate a XAdES-T SignatureTimeStamp: an RFC 3161 token over the canonical SignatureValue."""
        ns = {"ds": DS_NS, "xades": XADES_NS}
        token = timestamp_el.find("xades:EncapsulatedTimeStamp", namespaces=ns)
        value = signature.find("ds:SignatureValue", namespaces=ns)
        method = timestamp_el.find("ds:CanonicalizationMethod", namespaces=ns)
        c14n_alg = method.get("Algorithm", _C14N_10) if method is not None else _C14N_10
        problem = None
        if token is None or not (token.text or "").strip() or value is None:
            problem = "XAdES SignatureTimeStamp without an EncapsulatedTimeStamp"
        elif c14n_alg not in _C14N_METHODS:
            problem = f"XAdES SignatureTimeStamp uses unsupported canonicalisation {c14n_alg}"
        if problem is None and token is not None and value is not None:
            exclusive, comments = _C14N_METHODS[c14n_alg]
            signed_value = etree.tostring(value, method="c14n", exclusive=exclusive, with_comments=comments)
            try:
                status = timestamp_status(base64.b64decode("".join((token.text or "").split())), signed_value,
                                          self.validator)
            except (ValueError, TypeError, KeyError) as exc:
                problem = f"XAdES SignatureTimeStamp is not a valid RFC 3161 token: {exc}"
            else:
                report.timestamps.append(status)
                if status.valid and status.trusted:
                    report.proven_signing_time = status.time
                    return
                problem = (f"XAdES SignatureTimeStamp by {status.tsa} is intact but not trusted (no valid path from "
                           "its TSA certificate to a configured anchor)" if status.valid else
                           "XAdES SignatureTimeStamp does not validate (token signature or message imprint)")
        holder = ChainResult()
        apply_level(holder, self.policy, Check.TIMESTAMP_INVALID, Indication.INDETERMINATE,
                    SubIndication.SIG_CONSTRAINTS_FAILURE, problem or "invalid timestamp")
        if holder.sub_indication is not None:
            report.fail(holder.indication, holder.sub_indication, holder.message)
        report.warnings += holder.warnings
        report.infos += holder.infos

    def _weak(self, report: SignatureReport, alg: AlgorithmUse) -> None:
        size = f" ({alg.key_size} bits)" if alg.key_size else ""
        msg = f"{alg.role} algorithm {alg.name}{size} is weak under policy {self.policy.label}"
        holder = ChainResult()
        apply_level(holder, self.policy, Check.WEAK_ALGORITHM, Indication.INDETERMINATE,
                    SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, msg)
        if holder.sub_indication is not None:
            report.fail(holder.indication, holder.sub_indication, msg)
        report.warnings += holder.warnings
        report.infos += holder.infos

    @staticmethod
    def _xades_properties(report: SignatureReport, signed_props: etree._Element) -> None:
        st = signed_props.find(".//xades:SigningTime", namespaces={"xades": XADES_NS})
        if st is not None and st.text:
            try:
                report.claimed_signing_time = datetime.fromisoformat(st.text.strip().replace("Z", "+00:00"))
            except ValueError:
                report.warnings.append(f"unparseable XAdES SigningTime {st.text!r}")

    @staticmethod
    def _check_covered(root: etree._Element, xpath: str, ns: Mapping[str, str],
                       fragments: list[tuple[str, Any]]) -> str | None:
        """None if the node at ``xpath`` is byte-for-byte inside what signxml returned as signed."""
        if xpath == "/*" and any(uri == "" and signed is not None for uri, signed in fragments):
            return None  # the whole document was digested: its root element is covered by definition
        if xpath == "/*" and root.tag == f"{{{DS_NS}}}Signature":
            return XmlVerifier._enveloping_covered(root, fragments)
        try:
            nodes = root.xpath(xpath, namespaces=dict(ns))
        except etree.XPathError as exc:
            return f"required part {xpath!r} is not a valid XPath: {exc}"
        if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], etree._Element):
            count = len(nodes) if isinstance(nodes, list) else "?"
            return f"required part {xpath!r} must select exactly one element in the document, found {count}"
        node = nodes[0]
        for uri, signed_xml in fragments:
            if signed_xml is None:
                continue
            if uri == "":
                # The signed view is the whole document and signxml digested all of it, so finding the
                # required path in that view is the proof.
                found = signed_xml.xpath(xpath, namespaces=dict(ns))
                if isinstance(found, list) and len(found) == 1:
                    return None
                continue
            ref_id = uri[1:]
            for anc in [node, *node.iterancestors()]:
                if ref_id in element_ids(anc):
                    if _c14n(_without_signatures(anc)) == _c14n(_without_signatures(signed_xml)):
                        return None
                    break
        return f"required part {xpath!r} is not covered by the signature (signed data not found; possible wrapping)"

    @staticmethod
    def _enveloping_covered(root: etree._Element, fragments: list[tuple[str, Any]]) -> str | None:
        """An enveloping signature (the document *is* the Signature): every ds:Object carrying content
        must be exactly one of the signed fragments; the QualifyingProperties object is XAdES' own."""
        objs = [o for o in root.iterfind(f"{{{DS_NS}}}Object") if o.find(f"{{{XADES_NS}}}QualifyingProperties") is None]
        if not objs:
            if any(uri and not uri.startswith("#") for uri, _ in fragments):
                return None  # a detached signature: what it signs is the external document(s), verified above
            return "enveloping signature without a signed ds:Object: nothing of the document is signed"
        for obj in objs:
            ids = element_ids(obj)
            wanted = _c14n(_without_signatures(obj))
            if not any(uri[1:] in ids and signed is not None and _c14n(_without_signatures(signed)) == wanted
                       for uri, signed in fragments if uri.startswith("#")):
                how = ("is signed only as its base64-decoded text, which does not cover the element" if any(
                    uri[1:] in ids and signed is None for uri, signed in fragments) else "is not covered by it")
                return f"ds:Object {sorted(ids) or '(no Id)'} of the enveloping signature {how} (signed data not found)"
        return None

    def _uncovered(self, root: etree._Element, signature: etree._Element, report: SignatureReport) -> None:
        """edXML attachments beside the envelope, documents a ds:Manifest lists (:mod:`signing.xmluncovered`)."""
        attachments = edxml_attachments(root, report)
        if attachments:
            flag_uncovered(report, self.policy, attachments, f"{len(attachments)} edXML attachment(s) outside the "
                           "signed envelope are not covered by the signature")
        manifest = manifest_documents(signature)
        if manifest:
            flag_uncovered(report, self.policy, manifest, f"{len(manifest)} document(s) listed in a ds:Manifest are "
                           "not verified (outside XML-DSig core validation; nothing is fetched or transformed)")
