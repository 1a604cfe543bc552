"""Property: whatever is done to a real-shaped packet's bytes, the reader answers with a result or an
``EdxmlError`` (which the façade turns into a 422 problem) — never another exception (a 500).

The mutations aim at the new pre-parse payload extraction: cut, duplicated or corrupted
``ContentTransferEncoded`` tags, entities, CDATA and comments around payloads, random byte flips.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from adapters.vdxp.edxml import EdxmlError, read_packet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edxml"
PACKETS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.edxml"))]
SNIPPETS = [b"<ContentTransferEncoded>", b"</ContentTransferEncoded>", b"<edXML:ContentTransferEncoded>",
            b"<![CDATA[", b"]]>", b"<!--", b"-->", b"&amp;", b"&x;", b"=", b"==", b"\n", b"#lgsp-", b"<a/>",
            b"QUJD", b"\x00", b"\xff", b"<", b">", b'xmlns=""', b"<ContentTransferEncoded/>"]


def mutated(rng: random.Random) -> bytes:
    data = bytearray(rng.choice(PACKETS))
    for _ in range(rng.randint(1, 4)):
        spots = [i for i in range(len(data)) if data.startswith(b"ContentTransferEncoded", i)]
        if spots and rng.random() < 0.7:  # mostly around the payloads the reader cuts out before parsing
            at = min(len(data), max(0, rng.choice(spots) + rng.randint(-3, 30)))
        else:
            at = rng.randint(0, len(data))
        kind = rng.choice(["insert", "delete", "flip"])
        if kind == "insert":
            data[at:at] = rng.choice(SNIPPETS)
        elif kind == "delete":
            del data[at : at + rng.randint(1, 40)]
        elif at < len(data):
            data[at] = rng.randint(0, 255)
    return bytes(data)


@pytest.mark.parametrize("seed", range(300))
def test_mutated_packets_are_read_or_refused_never_crash(seed: int) -> None:
    data = mutated(random.Random(5000 + seed))
    try:
        result = read_packet(data)
    except EdxmlError as exc:
        assert exc.code and exc.message
        return
    for attachment in getattr(result.packet, "attachments", []):
        assert isinstance(attachment.content, bytes)  # a lazily decoded payload decodes
