"""signxml, bound to lgsp's rules: our parsed tree instead of a second parse, the N-th top-level signature,
the corrected inclusive C14N, and the algorithms accepted (no HMAC).

For the common reference — the whole document, enveloped, one canonicalisation — signxml serialises and
re-parses the document twice before canonicalising it (to get a private copy, then to cut it loose from any
parent). A tree we parsed ourselves, whose root has no siblings, needs neither: one C-level copy gives the
same nodes, and the root of that copy has no parent to inherit from. :meth:`_TreeMixin._verify_reference`
does exactly that case and leaves every other one to signxml.
"""

from __future__ import annotations

import copy
from base64 import b64decode
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lxml import etree
from signxml import XMLVerifier
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidDigest, InvalidInput
from signxml.util import _remove_sig
from signxml.verifier import VerifyResult
from signxml.xades import XAdESVerifier

from .c14n import CorrectInclusiveC14N
from .xmltree import DS_NS

_ALLOWED_METHODS = frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC"))

_ALLOWED_DIGESTS = frozenset(DigestAlgorithm)

_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_C14N = frozenset(method.value for method in CanonicalizationMethod)
BASE64_TRANSFORM = "http://www.w3.org/2000/09/xmldsig#base64"
#: The transforms signxml applies. It skips any other (XPath, XPath Filter 2.0, XSLT) without a word and
#: digests the untransformed data, so such a reference must be refused, not reported as changed content.
SUPPORTED_TRANSFORMS = _C14N | {_ENVELOPED, BASE64_TRANSFORM}
_INCLUSIVE_NAMESPACES = "{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces"
_C14N_METHOD_PATH = f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}CanonicalizationMethod"


class _TreeMixin:
    """Hand signxml the tree we already parsed with our hardened parser instead of a second parse.

    signxml copies the tree before it transforms anything (``_verify_reference``), so sharing the root
    is safe; what it returns as signed is still only what its references resolved to.
    """

    target_index = 0  # which top-level signature (document order) this verifier checks
    #: The tree is as our parser built it (no edXML variant rewritten), so a copy of it is a re-parse of it.
    pristine_tree = False

    def get_root(self, data: Any) -> Any:
        if isinstance(data, etree._Element):
            return data
        return super().get_root(data)  # type: ignore[misc]

    def _get_signature(self, root: Any) -> Any:
        """The N-th top-level signature — also in signxml's private copy, so the enveloped transform
        removes exactly the signature being verified when a document carries several."""
        tag = f"{{{DS_NS}}}Signature"
        if root.tag == tag:
            return root
        if self.target_index == 0:  # the first in document order cannot be nested in another signature
            first = next(root.iter(tag), None)
            if first is None:
                raise InvalidInput("signature element not found")
            return first
        signatures = top_level_signatures(root)
        if self.target_index >= len(signatures):
            raise InvalidInput("signature element not found")
        return signatures[self.target_index]


    def validate_schema(self, signature: Any) -> None:
        """signxml's schema check, accepting exclusive C14N's ``ec:InclusiveNamespaces`` in
        ``ds:CanonicalizationMethod`` (exc-c14n §3, what WS-Security and SAML stacks emit).

        The XML-DSig schema's wildcard there is strict and signxml bundles no exc-c14n schema, so a genuine
        SOAP signature was refused as "not schema-valid" although signxml canonicalises SignedInfo with that
        PrefixList. The element is checked here against its own schema (empty, no attribute but
        ``PrefixList``) and the rest is validated on a copy without it (signxml goes on with the original).
        """
        method = signature.find(_C14N_METHOD_PATH)
        extra = [child for child in method if child.tag == _INCLUSIVE_NAMESPACES] if method is not None else []
        if extra:
            for element in extra:
                if len(element) or (element.text or "").strip() or set(element.attrib) - {"PrefixList"}:
                    raise InvalidInput("ec:InclusiveNamespaces in CanonicalizationMethod must be an empty element "
                                       "whose only attribute is PrefixList (exc-c14n §3)")
            signature = copy.deepcopy(signature)
            copied = signature.find(_C14N_METHOD_PATH)
            for element in [child for child in copied if child.tag == _INCLUSIVE_NAMESPACES]:
                copied.remove(element)
        super().validate_schema(signature)  # type: ignore[misc]

    def _check_cert_validity(self, cert: Any, cert_source: Any) -> None:
        """signxml's check, without building the certificate's description when there is nothing to say."""
        sx: Any = self
        moment = sx._get_cert_verification_time()
        if cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
            return
        super()._check_cert_validity(cert, cert_source)  # type: ignore[misc]

    def _verify_reference(self, reference: Any, index: int, root: Any, uri_resolver: Any, c14n_algorithm: Any,
                          signature: Any, signature_key_used: Any) -> Any:
        """signxml's reference check; for the whole pristine document, enveloped, with at most one
        canonicalisation, done on one copy of the tree instead of two serialise-and-parse round trips."""
        sx: Any = self
        transforms_node = sx._find(reference, "Transforms", require=False)
        transforms = [] if transforms_node is None else sx._findall(transforms_node, "Transform")
        algorithms = [t.get("Algorithm") for t in transforms]
        c14n = [(t, a) for t, a in zip(transforms, algorithms, strict=True) if a in _C14N]
        if not (self.pristine_tree and reference.get("URI") == "" and root.getparent() is None
                and root.getprevious() is None and root.getnext() is None and len(c14n) <= 1
                and all(a == _ENVELOPED or a in _C14N for a in algorithms)):
            return super()._verify_reference(  # type: ignore[misc]
                reference, index, root, uri_resolver, c14n_algorithm, signature, signature_key_used)
        digest_method = sx._find(reference, "DigestMethod").get("Algorithm")
        digest_value = sx._find(reference, "DigestValue")
        payload = copy.deepcopy(root)
        if _ENVELOPED in algorithms:
            _remove_sig(self._get_signature(payload), idempotent=True)
        if c14n:
            transform, algorithm = c14n[0]
            payload_c14n = sx._c14n(payload, algorithm=CanonicalizationMethod(algorithm),
                                    inclusive_ns_prefixes=sx._get_inclusive_ns_prefixes(transform))
        else:
            payload_c14n = sx._c14n(payload, algorithm=sx.config.default_reference_c14n_method)
        digest_alg = DigestAlgorithm(digest_method)
        sx.check_digest_alg_expected(digest_alg)
        if b64decode(digest_value.text) != sx._get_digest(payload_c14n, digest_alg):
            raise InvalidDigest(f"Digest mismatch for reference {index} ({reference.get('URI')})")
        try:  # what signxml returns as signed: the canonical bytes parsed back, nothing else
            signed_xml = sx._fromstring(payload_c14n)
        except etree.XMLSyntaxError:
            signed_xml = None
        key = signature_key_used if isinstance(signature_key_used, bytes) else signature_key_used.public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        return VerifyResult(payload_c14n, signed_xml, signature, signature_key=key)


def top_level_signatures(root: etree._Element) -> list[etree._Element]:
    """ds:Signature elements not nested in another signature (counter-signatures belong to their parent)."""
    tag = f"{{{DS_NS}}}Signature"
    return [s for s in root.iter(tag) if not any(a.tag == tag for a in s.iterancestors())]


class _XmlDsig(_TreeMixin, CorrectInclusiveC14N, XMLVerifier):
    pass


class _XAdES(_TreeMixin, CorrectInclusiveC14N, XAdESVerifier):
    pass
