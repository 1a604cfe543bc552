"""edXML parse + validate throughput vs a bare ``lxml.etree.fromstring`` of the same bytes.

Two packets: ~50 KB (one small attachment) and ~5 MB (three attachments, one of them zipped). For each,
"edXML" = lgsp's tolerant reader with the XSD check on (hardened parse, namespace/order checks, required
fields, base64 decoding and cid cross-check of every attachment, zip directory check, XSD validation);
"bare" = ``lxml.etree.fromstring(data)``. Both run in this process on the same bytes; each figure is the
median of several runs. The headline ``ratio`` is the geometric mean over the two sizes of
(edXML throughput / bare lxml throughput): 1.0 would mean validation is free, 0.25 means 4x slower.

    .venv/bin/python bench/edxml_parse.py [--repeat N] [--min-of N]

``--min-of N`` replaces the medians by the minimum of N single-shot timings of each, taken alternately
(edXML, bare, edXML, ...): on a loaded shared machine a median of 15 mostly measures the preemptions, a
minimum of single shots the code.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.vdxp.edxml import (
    Attachment,
    Code,
    DocumentPacket,
    DocumentType,
    MessageHeader,
    Organization,
    PromulgationInfo,
    TraceHeader,
    TraceHeaderList,
    new_content_id,
    read_document,
    write_document,
)

MB = 1024 * 1024


def _packet(attachments: list[Attachment]) -> bytes:
    sender = "000.00.12.H10"
    header = MessageHeader(
        from_=Organization(sender, "Sở Thông tin và Truyền thông Cần Thơ"),
        to=[Organization("000.00.00.G22", "Văn phòng Chính phủ")],
        document_id=f"{sender},2026/11/20,1234/STTTT-VP",
        code=Code("1234", "STTTT-VP"),
        promulgation_info=PromulgationInfo(date(2026, 11, 20), "Cần Thơ"),
        document_type=DocumentType(1, 1, "Công văn"),
        subject="V/v đo hiệu năng đọc gói tin edXML",
    )
    trace = TraceHeaderList([TraceHeader(sender, datetime(2026, 11, 20, 8, 0, 0))])
    return write_document(DocumentPacket(header, trace, attachments))


def build_packets(rng: random.Random) -> dict[str, bytes]:
    small = _packet([Attachment(new_content_id(), "cv.pdf", rng.randbytes(36 * 1024), "application/pdf")])
    big = _packet([
        Attachment(new_content_id(), "congvan.pdf", rng.randbytes(2 * MB), "application/pdf"),
        Attachment(new_content_id(), "phuluc.docx", rng.randbytes(1 * MB + 600 * 1024), "application/octet-stream"),
        Attachment.zipped("hoso.zip", {"a.bin": rng.randbytes(100 * 1024)}),
    ])  # fmt: skip
    return {"50 KB": small, "5 MB": big}


@dataclass
class Row:
    packet: str
    size: int
    attachments: int
    edxml_s: float
    bare_s: float

    @property
    def mb(self) -> float:
        return self.size / MB

    @property
    def ratio(self) -> float:
        return self.bare_s / self.edxml_s


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    action()  # warm-up (schema compilation, caches)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def min_seconds(actions: list[Callable[[], object]], shots: int) -> list[float]:
    """The fastest of ``shots`` single runs of each action, the actions taken in turn."""
    best = [math.inf] * len(actions)
    for _ in range(shots):
        for i, action in enumerate(actions):
            start = time.perf_counter()
            action()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def measure(label: str, data: bytes, repeat: int, min_of: int = 0) -> Row:
    result = read_document(data)
    assert result.deviations == [], result.deviations
    if min_of:
        shots = max(60, min_of * 64 * 1024 // max(len(data), 64 * 1024))  # fewer shots of the big packet
        edxml, bare = min_seconds([lambda: read_document(data, schema_check=True), lambda: etree.fromstring(data)],
                                  shots)
        return Row(label, len(data), len(result.packet.attachments), edxml, bare)
    edxml = median_seconds(lambda: read_document(data, schema_check=True), repeat)
    bare = median_seconds(lambda: etree.fromstring(data), repeat)
    return Row(label, len(data), len(result.packet.attachments), edxml, bare)


def main() -> None:
    parser = argparse.ArgumentParser(description="edXML parse + validate vs bare lxml")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--min-of", type=int, default=0, help="minimum of N single shots instead of medians")
    args = parser.parse_args()
    packets = build_packets(random.Random(20261126))
    rows = [measure(label, data, args.repeat, args.min_of) for label, data in packets.items()]
    print(
        f"{'packet':>7} {'bytes':>10} {'att':>4} {'edXML ms':>9} {'lxml ms':>8} {'edXML ms/MB':>12} "
        f"{'lxml ms/MB':>11} {'edXML MB/s':>11} {'lxml MB/s':>10} {'ratio':>6}"
    )
    for r in rows:
        print(
            f"{r.packet:>7} {r.size:>10} {r.attachments:>4} {r.edxml_s * 1000:>9.2f} {r.bare_s * 1000:>8.2f} "
            f"{r.edxml_s * 1000 / r.mb:>12.2f} {r.bare_s * 1000 / r.mb:>11.2f} {r.mb / r.edxml_s:>11.1f} "
            f"{r.mb / r.bare_s:>10.1f} {r.ratio:>6.3f}"
        )
    print("ratio = edXML parse+validate throughput / bare lxml.etree.fromstring throughput (geometric mean)")
    headline = math.exp(sum(math.log(r.ratio) for r in rows) / len(rows))
    summary: dict[str, object] = {"benchmark": "edxml_parse", "ratio": round(headline, 4), "repeat": args.repeat}
    if args.min_of:
        summary["min_of"] = args.min_of
    for r in rows:
        key = r.packet.replace(" ", "").lower()
        summary[f"{key}_bytes"] = r.size
        summary[f"{key}_edxml_ms_per_mb"] = round(r.edxml_s * 1000 / r.mb, 3)
        summary[f"{key}_bare_ms_per_mb"] = round(r.bare_s * 1000 / r.mb, 3)
        summary[f"{key}_ratio"] = round(r.ratio, 4)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
