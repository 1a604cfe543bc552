"""Structural bounds on what one signed document may ask the verifier to do.

Size bounds alone do not bound the work: verifying a Reference copies and canonicalises the whole XML
document, so 3,000 references over a 1 MB edXML packet (a 2 MB file) took 67 s and 6.4 GB; every PDF
signature runs a difference analysis over the later revisions; every JWS signature is a public-key
operation and possibly a chain to build. Real documents carry a handful of each. A document over one of
these bounds is ``TOTAL_FAILED / FORMAT_FAILURE`` with the bound named (as an XML document over its
element or depth bound is), before any of its signatures is verified.
"""

from __future__ import annotations

#: Signatures per document: top-level XML signatures, PDF signature fields, JWS (general) signatures.
MAX_SIGNATURES = 32
#: XML ``ds:Reference`` elements per document, over all its top-level signatures.
MAX_REFERENCES = 64
#: ``ds:Transform`` elements per Reference (enveloped + one C14N is the norm).
MAX_TRANSFORMS = 8
#: Certificates a signature may carry to build its chain from (``X509Data``, ``x5c``, XAdES
#: ``CertificateValues``, the CMS certificates of a PDF signature), and a PDF's DSS ``/Certs``.
MAX_CERTIFICATES = 16
#: Certificates path building may choose from for one signature, all sources together (KeyInfo +
#: CertificateValues; CMS certificates + DSS). Paths are built over every combination of certificates
#: sharing a subject: 28 such certificates (14 names, two each) took 13 s of CPU, every two more double it.
MAX_PATH_CERTIFICATES = 20
#: Revisions (incremental updates) of a PDF. Every signature's difference analysis walks all revisions after
#: it, at a cost that grows with the square of their number: 1,000 one-object updates (a 165 KB file) took
#: 14 s for one signature, 3,000 (487 KB) 93 s. Signing, form filling and LTV updates make a few each.
MAX_REVISIONS = 100
#: CRLs and OCSP responses together in one XAdES ``RevocationValues`` or one PDF DSS; each is parsed and
#: matched against every certificate of the chain.
MAX_REVOCATION_VALUES = 32


def over(count: int, bound: int, what: str) -> str | None:
    """The refusal text when ``count`` exceeds ``bound``, else None."""
    if count <= bound:
        return None
    return f"the document carries {count} {what}, more than the limit of {bound} (signing/limits.py)"
