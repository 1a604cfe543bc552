"""Inclusive Canonical XML 1.0 of a document subset, done right.

libxml2 (seen with 2.14) canonicalises a non-root element inclusively with spurious ``xmlns=""`` on
grandchildren whenever a default namespace changes above them, and drops inherited ``xml:lang`` /
``xml:space``. signxml calls it for SignedInfo and for id-referenced elements, so a conformant signer's
edXML (``<Signature xmlns="…xmldsig#">`` with C14N 1.0, PROTOCOLS §1.4) or a SOAP Body with a nested
default namespace would fail verification although nothing was tampered with.

The canonical form of a subset is that of the element standing alone with every in-scope namespace and
inherited ``xml:*`` attribute on it, and libxml2 gets *that* case right: so we build that stand-alone copy
and canonicalise it whole. Exclusive C14N is unaffected and left to signxml.
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree

XML_NS = "http://www.w3.org/XML/1998/namespace"
_INHERITED = (f"{{{XML_NS}}}lang", f"{{{XML_NS}}}space")
_EXCLUSIVE = "http://www.w3.org/2001/10/xml-exc-c14n#"


def inclusive_c14n(node: etree._Element, *, with_comments: bool = False) -> bytes:
    """Inclusive C14N 1.0 of ``node`` and its descendants as a document subset."""
    native = etree.tostring(node, method="c14n", exclusive=False, with_comments=with_comments)
    if node.getparent() is None:
        return native
    ancestors = list(node.iterancestors())
    if b' xmlns=""' not in native and not any(a.get(name) is not None for a in ancestors for name in _INHERITED):
        return native  # neither defect can be present: the native form is already the standard one
    apex = etree.Element(node.tag, nsmap=node.nsmap)  # nsmap: every namespace in scope, inherited ones too
    for name, value in node.attrib.items():
        apex.set(name, value)
    for ancestor in ancestors:  # nearest first, so the closest value wins
        for name in _INHERITED:
            if apex.get(name) is None and ancestor.get(name) is not None:
                apex.set(name, ancestor.get(name))
    apex.text = node.text
    for child in node:
        apex.append(copy.deepcopy(child))
    return etree.tostring(apex, method="c14n", exclusive=False, with_comments=with_comments)


class CorrectInclusiveC14N:
    """Mixin for signxml processors (verifier or signer): replaces their ``_c14n`` for inclusive C14N."""

    def _c14n(self, nodes: Any, algorithm: Any, inclusive_ns_prefixes: Any = None) -> bytes:
        if algorithm.value.startswith(_EXCLUSIVE):
            return super()._c14n(nodes, algorithm, inclusive_ns_prefixes)  # type: ignore[misc]
        with_comments = algorithm.value.endswith("#WithComments")
        items = nodes if isinstance(nodes, list) else [nodes]
        return b"".join(inclusive_c14n(node, with_comments=with_comments) for node in items)
