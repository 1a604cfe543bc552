"""Checks an edXML packet must pass, written independently of lgsp's reader (only the XSD is shared)."""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import stat
import struct
import zipfile
from functools import cache
from pathlib import Path

from lxml import etree
from packets import NS

E = f"{{{NS}}}"
DATE = re.compile(r"^\d{4}/\d{2}/\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}$")
#: Accepted agency identifier forms (PROTOCOLS.md §1.9): canonical NNN.NN.NN.XNN plus the forms of real
#: traffic. Same default as lgsp (kept independent on purpose); override with EDXML_AGENCY_PATTERNS or
#: LGSP_AGENCY_ID_PATTERNS (regular expressions separated by ";").
DEFAULT_AGENCY_PATTERNS = (
    r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}",
    r"\d{3}\.\d{2}\.\d{2}\.[A-Z]{2}\d{1,2}",
    r"vxp\.saas\.\d{2,3}",
    r"\d{2}\.\d{2}\.[A-Z]\d{2}",
)
_PATTERNS = [
    p.strip()
    for p in (os.environ.get("EDXML_AGENCY_PATTERNS") or os.environ.get("LGSP_AGENCY_ID_PATTERNS") or "").split(";")
    if p.strip()
] or list(DEFAULT_AGENCY_PATTERNS)
AGENCY = re.compile("^(?:" + "|".join(f"(?:{p})" for p in _PATTERNS) + ")$")
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
DSIG_SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"


def short(value: object, limit: int = 120) -> str:
    """``repr(value)`` cut to ``limit`` characters: a partner's field can be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def summary(problems: list[str], limit: int = 20) -> str:
    """The first ``limit`` problems joined for a failure message, each cut short, with the count of the rest."""
    shown = [p if len(p) <= 500 else p[:500] + "…" for p in problems[:limit]]
    rest = len(problems) - len(shown)
    return "; ".join(shown) + (f"; … and {rest} more" if rest > 0 else "")


def schema_dir() -> Path:
    override = os.environ.get("EDXML_SCHEMA_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "schemas" / "edxml"


#: A larger file is judged "too large" without being read (lgsp's own default packet limit; PROTOCOLS.md §1.5
#: mentions a 50 MB gateway rule). Override with EDXML_MAX_BYTES.
MAX_PACKET_BYTES = int(os.environ.get("EDXML_MAX_BYTES") or 100 * 1024 * 1024)
_WIDE_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32",
              b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}


def read_packet(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of one producer file, read only when it is a regular file within the size limit.

    A FIFO would block the run forever and ``/dev/zero`` behind a symlink would fill the memory, so the
    file is opened without blocking and checked before a byte is read; every refusal is a failed check
    naming the reason (an ``AssertionError``), never an exception of another kind.
    """
    limit = MAX_PACKET_BYTES if max_bytes is None else max_bytes
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise AssertionError(f"cannot open the file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        assert stat.S_ISREG(info.st_mode), "not a regular file (a directory, device or pipe is not a packet)"
        assert info.st_size <= limit, f"the file is {info.st_size} bytes, over the {limit}-byte limit (EDXML_MAX_BYTES)"
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise AssertionError(f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    assert len(data) <= limit, f"the file grew past the {limit}-byte limit (EDXML_MAX_BYTES) while being read"
    return data


def parse(data: bytes) -> etree._Element:
    """Parse with DTDs, entities and network off; a DOCTYPE is a failure in itself.

    Whatever the bytes, the outcome is a root element or an ``AssertionError`` saying what is wrong with
    the packet (lxml's own exceptions print as an unreadable ``File "<string>", line 1`` in a report).
    """
    for bom, name in _WIDE_BOMS.items():
        assert not data.startswith(bom), f"the packet is {name}-encoded (byte order mark {bom!r}); edXML is UTF-8"
    assert data.strip(), "the file is empty" if not data else "the file holds only white space"
    assert not data.startswith(b"PK\x03\x04"), "the file is a ZIP archive, not an XML packet"
    assert data.lstrip(b"\xef\xbb\xbf")[:1] == b"<", f"bytes before the XML declaration: {data[:8]!r}"
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise AssertionError(f"not well-formed XML: {str(exc)[:300]}") from None
    assert root is not None, "not well-formed XML: no root element"
    assert root.getroottree().docinfo.doctype == "", "packets must not carry a DOCTYPE"
    return root


def kind(root: etree._Element) -> str:
    return (
        "status" if root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}MessageHeader/{E}StatusCode") is not None else "edoc"
    )


@cache
def _schema(which: str) -> etree.XMLSchema:
    name = "edxml-status.xsd" if which == "status" else "edxml-document.xsd"
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(schema_dir() / name), parser))


def schema_errors(root: etree._Element) -> list[str]:
    schema = _schema(kind(root))
    if schema.validate(root):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def _text(root: etree._Element, path: str) -> str:
    return (root.findtext(path.replace("/", f"/{E}").replace("//", "/"), default="") or "").strip()


def required_field_problems(root: etree._Element) -> list[str]:
    """Missing or malformed required fields, found by exact paths (order-independent)."""
    assert root.tag == f"{E}edXML", f"root must be {{{NS}}}edXML, not {root.tag}"
    mh = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}MessageHeader")
    assert mh is not None, "edXMLEnvelope/edXMLHeader/MessageHeader is missing"
    problems: list[str] = []

    def need(path: str, pattern: re.Pattern[str] | None = None) -> None:
        value = (mh.findtext("/".join(f"{E}{p}" for p in path.split("/"))) or "").strip()
        if not value:
            problems.append(f"MessageHeader/{path} is missing or empty")
        elif pattern is not None and not pattern.match(value):
            problems.append(f"MessageHeader/{path} = {short(value)} has the wrong format")

    need("From/OrganId", AGENCY)
    if kind(root) == "status":
        for path in ("ResponseFor/OrganId", "ResponseFor/Code", "ResponseFor/DocumentId", "StatusCode"):
            need(path)
        need("Timestamp", TIMESTAMP)
        code = (mh.findtext(f"{E}StatusCode") or "").strip()
        if code and code not in ("01", "02", "03", "04", "05", "06", "13", "15", "16"):
            problems.append(f"StatusCode {short(code)} is not a known code")
        return problems
    recipients = mh.findall(f"{E}To")
    if not recipients:
        problems.append("MessageHeader/To is missing")
    for to in recipients:
        if not AGENCY.match((to.findtext(f"{E}OrganId") or "").strip()):
            problems.append("MessageHeader/To/OrganId is missing or not an agency code")
    for path in ("DocumentId", "Code/CodeNumber", "Code/CodeNotation", "DocumentType/Type", "Subject"):
        need(path)
    need("PromulgationInfo/PromulgationDate", DATE)
    problems += target_problems(root)
    return problems


def target_problems(root: etree._Element) -> list[str]:
    """A revocation (1), update (2) or replacement (3) must name its target somewhere (PROTOCOLS.md §1.3):
    MessageHeader/ResponseFor/DocumentId, Bussiness/ReplacementInfoList/ReplacementInfo/DocumentId or
    Bussiness/DocumentId; element order is free."""
    header = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader")
    business = header.find(f"{E}TraceHeaderList/{E}Bussiness") if header is not None else None
    doc_type = (business.findtext(f"{E}BussinessDocType") or "0").strip() if business is not None else "0"
    if doc_type not in ("1", "2", "3") or business is None or header is None:
        return []
    own = (header.findtext(f"{E}MessageHeader/{E}DocumentId") or "").strip()
    found = [(e.text or "").strip() for e in header.iterfind(f"{E}MessageHeader/{E}ResponseFor/{E}DocumentId")]
    replaced = business.iterfind(f"{E}ReplacementInfoList/{E}ReplacementInfo/{E}DocumentId")
    found += [(e.text or "").strip() for e in replaced]
    found.append((business.findtext(f"{E}DocumentId") or "").strip())
    if not [t for t in found if t and t != own]:
        return [f"BussinessDocType {doc_type} names no target document"]
    return []


def signature_notes(root: etree._Element) -> list[str]:
    """Tolerated producer mistakes worth telling the producer about (reported, not failed)."""
    notes = []
    for element in root.iter(f"{E}Signature"):
        notes.append(f"line {element.sourceline}: Signature is in the edXML namespace, not {DSIG_SIGNATURE[1:33]}")
    return notes


def attachment_problems(root: etree._Element) -> list[str]:
    """Manifest ↔ attachment content ids, base64, and zips that really are zips."""
    problems: list[str] = []
    refs = root.findall(f"{E}edXMLEnvelope/{E}edXMLBody/{E}edXMLManifest/{E}Reference")

    def internal(ref: etree._Element) -> bool:
        # xlink:href="" and "cid:<id>" mean "this packet's attachment"; only another URI is external
        href = ref.get(XLINK_HREF)
        return href is None or not href.strip() or href.strip().lower().startswith("cid:")

    listed = {(r.findtext(f"{E}ContentId") or "").strip() for r in refs if internal(r)}
    for ref in refs:
        href = (ref.get(XLINK_HREF) or "").strip()
        if href.lower().startswith("cid:") and href != (ref.findtext(f"{E}ContentId") or "").strip():
            problems.append(f"xlink:href {short(href)} and ContentId name different attachments")
    present: set[str] = set()
    for attachment in root.findall(f"{E}AttachmentEncoded/{E}Attachment"):
        cid = (attachment.findtext(f"{E}ContentId") or "").strip()
        present.add(cid)
        if not cid.startswith("cid:"):
            problems.append(f"attachment content id {short(cid)} lacks the cid: prefix")
        try:
            raw = base64.b64decode(
                "".join((attachment.findtext(f"{E}ContentTransferEncoded") or "").split()), validate=True
            )
        except (binascii.Error, ValueError):
            problems.append(f"attachment {short(cid)} is not base64")
            continue
        if (attachment.findtext(f"{E}ContentType") or "").strip().lower() == "application/zip":
            try:
                zipfile.ZipFile(io.BytesIO(raw)).infolist()
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
                    struct.error):
                problems.append(f"attachment {short(cid)} is declared application/zip but is not a zip")
    if listed != present:
        problems.append(f"manifest content ids {short(sorted(listed))} ≠ "
                        f"attachment content ids {short(sorted(present))}")
    return problems
