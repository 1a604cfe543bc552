"""signxml, bound to lgsp's rules: our parsed tree instead of a second parse, the N-th top-level signature,
the corrected inclusive C14N, and the algorithms accepted (no HMAC).
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from signxml import XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput
from signxml.xades import XAdESVerifier

from .c14n import CorrectInclusiveC14N
from .xmltree import DS_NS

_ALLOWED_METHODS = frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC"))

_ALLOWED_DIGESTS = frozenset(DigestAlgorithm)


class _TreeMixin:
    """Hand signxml the tree we already parsed with our hardened parser instead of a second parse.

    signxml copies the tree before it transforms anything (``_verify_reference``), so sharing the root
    is safe; what it returns as signed is still only what its references resolved to.
    """

    target_index = 0  # which top-level signature (document order) this verifier checks

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


def top_level_signatures(root: etree._Element) -> list[etree._Element]:
    """ds:Signature elements not nested in another signature (counter-signatures belong to their parent)."""
    tag = f"{{{DS_NS}}}Signature"
    return [s for s in root.iter(tag) if not any(a.tag == tag for a in s.iterancestors())]


class _XmlDsig(_TreeMixin, CorrectInclusiveC14N, XMLVerifier):
    pass


class _XAdES(_TreeMixin, CorrectInclusiveC14N, XAdESVerifier):
    pass
