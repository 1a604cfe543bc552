"""The document security store of a PDF (PAdES-LT, ETSI EN 319 142-1 §5.4): its CRLs, OCSP responses and
certificates, read as revocation evidence and intermediates for every signature of the document.

The DSS is the sender's: pyhanko decodes every entry of its arrays when it reads it, and a CRL is read
entry by entry later, so the arrays are counted (:mod:`signing.limits`) and each CRL's size bounded
(policy ``max_crl_bytes``) before that happens. Over a bound the document is ``FORMAT_FAILURE`` naming
it (``DssLimitError``), never "unreadable DSS, ignored".
"""

from __future__ import annotations

from typing import Any

from .limits import MAX_CERTIFICATES, MAX_REVOCATION_VALUES, over
from .revlimits import crl_size_problem
from .revocation import EmbeddedRevocation


class DssLimitError(ValueError):
    """The DSS is over a bound of :mod:`signing.limits` or the policy's ``max_crl_bytes``."""


def _dss_bounds(reader: Any) -> None:
    """Count the DSS arrays before pyhanko decodes every entry of them (DssLimitError)."""
    try:
        store = reader.root["/DSS"]
    except KeyError:
        return

    def count(key: str) -> int:
        try:
            value = store[key]
        except KeyError:
            return 0
        return len(value) if isinstance(value, list) else 0

    problem = (over(count("/Certs"), MAX_CERTIFICATES, "certificates in the DSS /Certs")
               or over(count("/CRLs") + count("/OCSPs"), MAX_REVOCATION_VALUES,
                       "CRLs and OCSP responses in the DSS"))
    if problem:
        raise DssLimitError(problem)


def read_dss(reader: Any, max_crl_bytes: int) -> tuple[EmbeddedRevocation | None, list[Any]]:
    """CRLs, OCSP responses and certificates of the PDF's DSS (PAdES-LT; ETSI EN 319 142-1 §5.4), which the
    VRI entries of each signature point into: what lets a long-term signature validate offline. Bounded
    first (:func:`_dss_bounds`); a CRL over ``max_crl_bytes`` is refused before its entries are read."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.pdf_utils.decode_limits import DecodePurpose
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError

    _dss_bounds(reader)
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return None, []
    blobs = [ref.get_object().read_data(DecodePurpose.CRL) for ref in dss.crls]
    for blob in blobs:
        problem = crl_size_problem(len(blob), max_crl_bytes)
        if problem:
            raise DssLimitError(f"the DSS carries a {problem}")
    crls = [asn1_crl.CertificateList.load(blob) for blob in blobs]
    ocsps = [asn1_ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
             for ref in dss.ocsps]
    embedded = EmbeddedRevocation(crls, ocsps, "embedded (PDF DSS)")
    return (embedded if embedded else None), list(dss.load_certs())
