"""Packet builders for the vdxp tests: a realistic sample and a seeded random generator.

The random generator drives the property-style tests: whatever it produces, the writer's output must
validate against the XSD and survive writer → reader → writer unchanged.
"""

from __future__ import annotations

import random
import string
from datetime import date, datetime

from adapters.vdxp.edxml import (
    Attachment,
    Business,
    BusinessDocType,
    BusinessDocumentInfo,
    Code,
    DocumentPacket,
    DocumentType,
    MessageHeader,
    Organization,
    OtherInfo,
    PromulgationInfo,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPacket,
    StatusResponseFor,
    TraceHeader,
    TraceHeaderList,
    document_id,
    new_content_id,
)

SENDER = "000.00.12.H10"
RECIPIENT = "000.00.01.G22"
OTHER = "000.00.02.H10"


def sample_document(
    sender: str = SENDER,
    recipients: tuple[str, ...] = (RECIPIENT,),
    attachments: list[Attachment] | None = None,
    business: Business | None = None,
) -> DocumentPacket:
    """A typical công văn with one PDF attachment."""
    promulgated = date(2026, 11, 20)
    header = MessageHeader(
        from_=Organization(
            sender,
            organ_name="Sở Thông tin và Truyền thông thành phố Cần Thơ",
            email="stttt@cantho.gov.vn",
            telephone="0292 1234567",
        ),
        to=[Organization(code, organ_name=f"Cơ quan {code}") for code in recipients],
        document_id=document_id(sender, promulgated, "1234", "STTTT-VP"),
        code=Code("1234", "STTTT-VP"),
        promulgation_info=PromulgationInfo(promulgated, "Cần Thơ"),
        document_type=DocumentType(1, 1, "Công văn"),
        subject="V/v triển khai nền tảng tích hợp, chia sẻ dữ liệu cấp tỉnh (LGSP)",
        content="Nội dung công văn — thử nghiệm liên thông.",
        signer_info=SignerInfo("KT. GIÁM ĐỐC", "Phó Giám đốc", "Nguyễn Văn An"),
        due_date=date(2026, 12, 31),
        to_places=["Như trên", "Lưu: VT"],
        other_info=OtherInfo(0, "Liên thông văn bản quốc gia", "NVA", 1, 2, False, ["Phụ lục I"]),
        steering_type=0,
    )
    trace = TraceHeaderList([TraceHeader(sender, datetime(2026, 11, 20, 8, 30, 0))], business or Business())
    files = (
        attachments
        if attachments is not None
        else [
            Attachment(new_content_id(), "congvan.pdf", b"%PDF-1.7 test document\n" * 20, "application/pdf", "Công văn")
        ]
    )
    return DocumentPacket(header, trace, files)


def sample_status(
    code: StatusCode = StatusCode.INBOX,
    sender: str = RECIPIENT,
    original_sender: str = SENDER,
    doc_id: str = "000.00.12.H10,2026/11/20,1234/STTTT-VP",
) -> StatusPacket:
    return StatusPacket(
        from_=Organization(sender, organ_name="Văn phòng Chính phủ"),
        response_for=StatusResponseFor(original_sender, "1234/STTTT-VP", doc_id, date(2026, 11, 20)),
        status_code=code,
        timestamp=datetime(2026, 11, 21, 9, 15, 0),
        description=code.label,
        staff_info=StaffInfo("Văn thư", "", "Trần Thị Bình", "", "vanthu@example.gov.vn", "0900000000"),
    )


# ------------------------------------------------------------------------------------ random generation

_VI = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
_TEXT_ALPHABET = _VI + _VI.upper() + string.digits + " .,;:-/()&<>\"'–"


def _text(rng: random.Random, low: int = 0, high: int = 40) -> str:
    # Leading/trailing spaces are not preserved by the reader (it strips), so keep them out.
    return "".join(rng.choice(_TEXT_ALPHABET) for _ in range(rng.randint(low, high))).strip()


def _word(rng: random.Random) -> str:
    return _text(rng, 1, 20) or "x"


def _agency(rng: random.Random) -> str:
    return (
        f"{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}.{rng.randint(0, 99):02d}."
        f"{rng.choice('GH')}{rng.randint(0, 99):02d}"
    )


def _date(rng: random.Random) -> date:
    return date(rng.randint(1990, 2040), rng.randint(1, 12), rng.randint(1, 28))


def _datetime(rng: random.Random) -> datetime:
    d = _date(rng)
    return datetime(d.year, d.month, d.day, rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))


def _org(rng: random.Random) -> Organization:
    return Organization(
        _agency(rng),
        _text(rng),
        _text(rng),
        _text(rng),
        _text(rng, 0, 10),
        _text(rng, 0, 10),
        _text(rng, 0, 10),
        _text(rng, 0, 10),
    )


def _staff(rng: random.Random) -> StaffInfo:
    return StaffInfo(*(_text(rng, 0, 12) for _ in range(6)))


def _business(rng: random.Random) -> Business:
    kind = rng.choice(list(BusinessDocType))
    business = Business(
        kind, _text(rng), _word(rng) if kind != BusinessDocType.NEW else "", rng.randint(0, 1), _staff(rng)
    )
    if kind == BusinessDocType.UPDATE or rng.random() < 0.2:
        business.document_info = BusinessDocumentInfo(
            str(rng.randint(0, 1)),
            str(rng.randint(0, 1)),
            [Receiver(_agency(rng), rng.randint(0, 1)) for _ in range(rng.randint(0, 3))],
        )
    if kind == BusinessDocType.REPLACE:
        business.replacements = [
            ReplacementInfo(_word(rng), [_agency(rng) for _ in range(rng.randint(0, 3))])
            for _ in range(rng.randint(1, 3))
        ]
    return business


def random_document(rng: random.Random) -> DocumentPacket:
    """A random but model-valid edoc packet (exercises every optional part sometimes)."""
    files = []
    for index in range(rng.randint(0, 3)):
        payload = rng.randbytes(rng.randint(0, 2000))
        if rng.random() < 0.3:
            files.append(Attachment.zipped(f"goi{index}.zip", {f"f{index}.bin": payload}, _text(rng)))
        else:
            files.append(Attachment(new_content_id(), f"tep {index}.pdf", payload, "application/pdf", _text(rng)))
    header = MessageHeader(
        from_=_org(rng),
        to=[_org(rng) for _ in range(rng.randint(1, 4))],
        document_id=_word(rng),
        code=Code(str(rng.randint(1, 99999)), _word(rng)),
        promulgation_info=PromulgationInfo(_date(rng), _text(rng)),
        document_type=DocumentType(rng.randint(0, 40), rng.randint(0, 5), _text(rng)),
        subject=_word(rng),
        content=_text(rng, 0, 200),
        signer_info=SignerInfo(_text(rng), _text(rng), _text(rng)),
        due_date=_date(rng) if rng.random() < 0.5 else None,
        to_places=[_text(rng) for _ in range(rng.randint(0, 3))],
        other_info=OtherInfo(
            rng.randint(0, 3),
            _text(rng),
            _text(rng, 0, 5),
            rng.randint(0, 9),
            rng.randint(0, 99),
            rng.random() < 0.5,
            [_text(rng) for _ in range(rng.randint(0, 2))],
        ),
        response_for=[
            ResponseFor(_agency(rng), _text(rng), _date(rng) if rng.random() < 0.5 else None, _text(rng))
            for _ in range(rng.randint(0, 2))
        ],
        steering_type=rng.randint(0, 1),
        response_for_task=_text(rng) if rng.random() < 0.3 else None,
        application_type=_text(rng) if rng.random() < 0.3 else None,
    )
    trace = TraceHeaderList(
        [TraceHeader(_agency(rng), _datetime(rng)) for _ in range(rng.randint(0, 3))], _business(rng)
    )
    return DocumentPacket(header, trace, files)


def random_status(rng: random.Random) -> StatusPacket:
    return StatusPacket(
        from_=_org(rng),
        response_for=StatusResponseFor(
            _agency(rng), _word(rng), _word(rng), _date(rng) if rng.random() < 0.5 else None
        ),
        status_code=rng.choice(list(StatusCode)),
        timestamp=_datetime(rng),
        description=_text(rng),
        staff_info=_staff(rng),
    )
