"""What an XML signature seems to protect but does not: edXML attachments beside the signed envelope, and
the documents a ``ds:Manifest`` lists.

XML-DSig §5.1 leaves Manifest references outside core validation: the signature covers the Manifest's
digests, not the documents, and lgsp fetches and transforms nothing to check them. Such a signature verified
``TOTAL_PASSED`` without a word about the documents (Phaos' XSLT-over-a-Manifest vector). Both kinds are
listed under ``not_covered`` and judged by the policy check ``uncovered_parts`` (default: a warning).
"""

from __future__ import annotations

from lxml import etree

from .policy import Check, Policy
from .report import Indication, SignatureReport, SubIndication
from .xmltree import DS_NS, EDXML_NS


def edxml_attachments(root: etree._Element, report: SignatureReport) -> list[str]:
    """The edXML attachments this signature leaves out (none when it covers the whole document)."""
    if etree.QName(root.tag).namespace != EDXML_NS:
        return []
    if any(part.description.startswith("whole document") for part in report.covered):
        return []
    attachments = root.xpath("./*[local-name()='AttachmentEncoded']/*[local-name()='Attachment']")
    found = []
    for att in attachments if isinstance(attachments, list) else []:
        if isinstance(att, etree._Element):
            cid = att.xpath("string(./*[local-name()='ContentId'])")
            name = att.xpath("string(./*[local-name()='AttachmentName'])")
            found.append(f"edXML attachment {name or '?'} ({cid or 'no ContentId'}) in AttachmentEncoded")
    return found


def manifest_documents(signature: etree._Element) -> list[str]:
    """Each ``ds:Manifest/ds:Reference`` of this signature, described (never resolved)."""
    found = []
    for manifest in signature.iter(f"{{{DS_NS}}}Manifest"):
        label = f" Id={manifest.get('Id')!r}" if manifest.get("Id") else ""
        for reference in manifest.iterfind(f"{{{DS_NS}}}Reference"):
            found.append(f"document URI={str(reference.get('URI'))[:200]!r} listed in ds:Manifest{label} "
                         "(Manifest references are not verified)")
    return found


def flag_uncovered(report: SignatureReport, policy: Policy, parts: list[str], message: str) -> None:
    """List ``parts`` under ``not_covered`` and apply the policy check ``uncovered_parts``."""
    report.not_covered += parts
    level = policy.level(Check.UNCOVERED_PARTS).value
    if level == "fail":
        report.fail(Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND, message)
    elif level == "warn":
        report.warnings.append(message)
    elif level == "inform":
        report.infos.append(message)
