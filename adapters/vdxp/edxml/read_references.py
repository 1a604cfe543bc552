"""The tolerant reader's manifest and attachments: content ids, base64, zip containers, and the check that
the manifest and the attachments name the same set.
"""

from __future__ import annotations

import binascii
import io
import zipfile

from lxml import etree

from .errors import EdxmlError
from .formats import XLINK_NAMESPACE
from .models import Attachment, EncodedAttachment, ManifestReference
from .read_context import _all, _Ctx, _kid, _local, _text
from .writer import normalise_cid


def _cid(ctx: _Ctx, raw: str, path: str) -> str:
    if not raw:
        raise EdxmlError("missing-field", "ContentId is missing", path)
    normalised = normalise_cid(raw)
    if raw != normalised:
        ctx.warn("cid-prefix", path, f"content id {raw!r} normalised to {normalised!r}")
    return normalised


def _manifest(ctx: _Ctx, envelope: etree._Element) -> list[ManifestReference] | None:
    body = _kid(ctx, envelope, "edXMLBody", "edXMLEnvelope")
    manifest = _kid(ctx, body, "edXMLManifest", "edXMLBody") if body is not None else None
    if manifest is None:
        return None
    if manifest.get("version") is None:
        ctx.warn("manifest-version", "edXMLManifest/@version", "edXMLManifest has no version attribute")
    references: list[ManifestReference] = []
    for index, item in enumerate(_all(ctx, manifest, "Reference")):
        path = f"edXMLManifest/Reference[{index}]"
        references.append(
            ManifestReference(
                content_id=_cid(ctx, _text(ctx, item, "ContentId", path), f"{path}/ContentId"),
                content_type=_text(ctx, item, "ContentType", path) or "application/octet-stream",
                description=_text(ctx, item, "Description", path),
                attachment_name=_text(ctx, item, "AttachmentName", path),
                href=item.get(f"{{{XLINK_NAMESPACE}}}href"),
            )
        )
    return references


def _attachment_container(ctx: _Ctx, root: etree._Element, envelope: etree._Element) -> etree._Element | None:
    encoded = _kid(ctx, root, "AttachmentEncoded", "")
    if encoded is not None:
        return encoded
    for parent, path in ((envelope, "edXMLEnvelope"),):
        for candidate in parent.iter():
            if _local(candidate) == "AttachmentEncoded":
                ctx.warn(
                    "attachment-position",
                    f"{path}/AttachmentEncoded",
                    "AttachmentEncoded found inside the envelope instead of beside it",
                )
                return candidate
    return None


def _decode(text: str, path: str) -> bytes:
    """Strict base64 (the canonical form has no line breaks; wrapped base64 is accepted too)."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return binascii.a2b_base64("".join(text.split()), strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise EdxmlError("bad-base64", f"ContentTransferEncoded is not base64: {exc}", path) from None


def _attachments(ctx: _Ctx, container: etree._Element | None) -> list[Attachment]:
    if container is None:
        return []
    attachments: list[Attachment] = []
    for index, item in enumerate(_all(ctx, container, "Attachment")):
        path = f"AttachmentEncoded/Attachment[{index}]"
        encoded = _kid(ctx, item, "ContentTransferEncoded", path)
        content_id = _cid(ctx, _text(ctx, item, "ContentId", path), f"{path}/ContentId")
        name = _text(ctx, item, "AttachmentName", path)
        content_type = _text(ctx, item, "ContentType", path) or "application/octet-stream"
        description = _text(ctx, item, "Description", path)
        payload = ctx.payloads.get(encoded.text or "") if encoded is not None else None
        attachment: Attachment
        if payload is not None:
            problem = payload.problem()
            if problem:
                raise EdxmlError("bad-base64", f"ContentTransferEncoded is not base64: {problem}",
                                 f"{path}/ContentTransferEncoded")
            attachment = EncodedAttachment(content_id, name, payload, content_type, description)
        else:
            attachment = Attachment(
                content_id, name,
                _decode(encoded.text or "" if encoded is not None else "", f"{path}/ContentTransferEncoded"),
                content_type, description)
        if encoded is not None:
            # Checked above, so the XSD would only repeat that work (slowly); the tree is private to this read.
            encoded.text = ""
        if attachment.is_zipped:
            _check_zip(attachment, path)
        attachments.append(attachment)
    return attachments


def _check_zip(attachment: Attachment, path: str) -> None:
    """Open the central directory only: cheap, and never decompresses a possible zip bomb."""
    try:
        with zipfile.ZipFile(io.BytesIO(attachment.content)) as archive:
            archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise EdxmlError(
            "bad-zip",
            f"attachment {attachment.content_id} is declared {attachment.content_type} but is not a zip: {exc}",
            path,
        ) from None


def _cross_check(ctx: _Ctx, manifest: list[ManifestReference] | None, attachments: list[Attachment]) -> None:
    cids = [a.content_id for a in attachments]
    duplicates = sorted({c for c in cids if cids.count(c) > 1})
    if duplicates:
        raise EdxmlError("duplicate-cid", f"attachments share content ids {duplicates}", "AttachmentEncoded")
    if manifest is None:
        if attachments:
            ctx.warn("missing-manifest", "edXMLBody/edXMLManifest", "attachments without a manifest")
        return
    for index, ref in enumerate(manifest):
        path = f"edXMLManifest/Reference[{index}]"
        if ref.is_external:
            ctx.warn("external-reference", path, f"reference to {ref.href!r} kept; lgsp never fetches it")
        elif ref.href and normalise_cid(ref.href) != ref.content_id:
            raise EdxmlError(
                "cid-mismatch",
                f"xlink:href {ref.href!r} and ContentId {ref.content_id!r} name different attachments",
                f"{path}/@xlink:href",
            )
    listed = {ref.content_id for ref in manifest if not ref.is_external}
    present = set(cids)
    if listed != present:
        raise EdxmlError(
            "cid-mismatch",
            f"manifest lists {sorted(listed - present) or 'nothing'} without attachment; attachments "
            f"{sorted(present - listed) or 'none'} are not in the manifest",
            "edXMLBody/edXMLManifest",
        )
