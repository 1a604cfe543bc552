"""What an XML signature's references cover: canonicalisation methods, the enveloped-signature view of an
element, the SHA-256 of covered bytes, and the resolver for detached documents the caller supplied
(nothing is ever fetched).
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from .xmltree import DS_NS

_C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"

_C14N_METHODS = {  # algorithm -> (exclusive, with comments)
    _C14N_10: (False, False),
    _C14N_10 + "#WithComments": (False, True),
    "http://www.w3.org/2001/10/xml-exc-c14n#": (True, False),
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": (True, True),
}


class DetachedDocumentMissing(LookupError):
    """A Reference points outside the document and the caller did not supply that document."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.uri = uri


def detached_resolver(detached: Mapping[str, bytes], external: Sequence[str]) -> Any:
    """signxml ``uri_resolver`` over the documents the caller supplied (``--detached FILE``, API field).

    A reference matches a document by its exact URI, else by file name (the last path segment); when one
    document is supplied for a signature with one external reference, that is the one. Nothing is ever
    fetched: an unmatched URI is :class:`DetachedDocumentMissing` (INDETERMINATE / SIGNED_DATA_NOT_FOUND).
    """
    def name_of(uri: str) -> str:
        return unquote(urlsplit(uri).path).replace("\\", "/").rsplit("/", 1)[-1]

    def resolve(uri: str) -> bytes:
        if uri in detached:
            return detached[uri]
        matches = [data for key, data in detached.items() if name_of(key) == name_of(uri)]
        if len(matches) == 1:
            return matches[0]
        if len(detached) == 1 and len(set(external)) == 1:
            return next(iter(detached.values()))
        raise DetachedDocumentMissing(uri)

    return resolve


_SHA256_URI = "http://www.w3.org/2001/04/xmlenc#sha256"


def _covered_sha256(digest_method: str | None, digest_value: str | None, signed_data: bytes) -> str:
    """SHA-256 (hex) of the bytes a reference covers. When the reference itself is SHA-256, signxml has just
    checked that its DigestValue *is* that hash, so it is reused instead of hashing ~20 KB again."""
    if digest_method == _SHA256_URI and digest_value:
        digest = base64.b64decode("".join(digest_value.split()))
        if len(digest) == 32:
            return digest.hex()
    return hashlib.sha256(signed_data).hexdigest()


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _without_signatures(element: etree._Element) -> etree._Element:
    """A copy without ds:Signature elements, as the enveloped-signature transform sees it.

    The transform removes the Signature *element* only; the text after it (in lxml its ``tail``, e.g. the
    newline and indentation of a pretty-printed document) is a sibling node that stays, and the signature
    covers it. lxml's ``remove()`` would drop the tail too, so it is moved onto the preceding node first.
    """
    clone = copy.deepcopy(element)
    for sig in list(clone.iter(f"{{{DS_NS}}}Signature")):
        parent = sig.getparent()
        if parent is None:
            continue
        if sig.tail:
            previous = sig.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + sig.tail
            else:
                parent.text = (parent.text or "") + sig.tail
        parent.remove(sig)
    return clone
