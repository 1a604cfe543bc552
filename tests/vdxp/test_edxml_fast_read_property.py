"""Property: the faster reader answers exactly what the previous reader answered.

The accessor layer was rewritten for speed (issue 11): the child index keeps the first element per name and
counts repeats aside, leaf blocks are read in one call, the agency-id test is looked up once per packet, the
extraction's character check also counts the whitespace, dates skip a generator. The oracle is the previous
accessor layer (``reference_read_context``, a frozen copy) patched into the reader modules; both readers
get the same packets — real-shaped fixtures and generated documents, mangled the ways real producers and
attackers do (repeated elements, comments and PIs, elements in no or a foreign namespace, placeholder and
odd values, wrapped or broken base64, byte-level damage) — and must give the same packet, the same
deviations in the same order, or the same error.
"""

from __future__ import annotations

import contextlib
import random
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import reference_read_context as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from vdxp_factories import random_document

from adapters.vdxp.edxml import (
    NAMESPACE,
    BusinessDocType,
    EdxmlError,
    formats,
    payloads,
    read_header,
    read_packet,
    read_references,
    read_signature,
    read_trace,
    read_tree,
    reader,
    write_document,
)
from lgsp import agency_ids

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edxml"
PACKETS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.edxml"))]
E = f"{{{NAMESPACE}}}"
_BASE64 = set((string.ascii_letters + string.digits + "+/=").encode())
_WHITESPACE = set(b" \t\r\n")
_Payload = payloads.Payload


def _reference_texts(ctx: ref._Ctx, element: etree._Element | None, names: tuple[str, ...], path: str) -> list[str]:
    """What the previous reader did for a leaf block: one ``_text`` per name, in order."""
    return [ref._text(ctx, element, name, path) for name in names]


def _reference_all(ctx: ref._Ctx, element: etree._Element, name: str) -> list[etree._Element]:
    """What the previous reader did for repeated children: a filtered scan."""
    return ref._kids(element, name)


def _reference_only_base64(data: bytes, start: int, stop: int) -> int | None:
    """The previous character check (yes/no), answering "0 whitespace counted" so ``problem()`` recounts."""
    return 0 if all(b in _BASE64 or b in _WHITESPACE for b in data[start:stop]) else None


@contextlib.contextmanager
def previous_reader() -> Iterator[None]:
    """Patch the previous accessor layer into every reader module (and the previous payload counting)."""
    with contextlib.ExitStack() as stack:
        for module in (reader, read_header, read_trace, read_references, read_signature, read_tree):
            for name in dir(ref):
                if name.startswith("_") and not name.startswith("__") and hasattr(module, name):
                    stack.enter_context(mock.patch.object(module, name, getattr(ref, name)))
        stack.enter_context(mock.patch.object(read_header, "_texts", _reference_texts))
        for module in (read_header, read_trace, read_references):
            stack.enter_context(mock.patch.object(module, "_all", _reference_all))
        stack.enter_context(mock.patch.object(payloads, "_only_base64", _reference_only_base64))
        stack.enter_context(mock.patch.object(payloads, "Payload", lambda data, start, stop, _ws=None:
                                              _Payload(data, start, stop)))
        yield


def outcome(read: Callable[[bytes], object], data: bytes) -> tuple[object, ...]:
    try:
        result = read(data)
    except EdxmlError as exc:
        return ("error", exc.code, exc.path, exc.message)
    packet = result.packet  # type: ignore[attr-defined]
    contents = [a.content for a in getattr(packet, "attachments", [])]
    return ("ok", packet, contents, result.deviations)  # type: ignore[attr-defined]


def _leaves(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter(etree.Element) if len(e) == 0 and e.tag != f"{E}ContentTransferEncoded"]


def mangle(data: bytes, rng: random.Random, steps: list[str]) -> bytes:
    """Apply tree-level mangling steps (then, for "bytes", byte-level damage) to a packet."""
    root = etree.fromstring(data)
    for step in steps:
        elements = [e for e in root.iter(etree.Element) if e is not root]
        target = rng.choice(elements)
        parent = target.getparent()
        assert parent is not None
        if step == "repeat":
            copy = etree.fromstring(etree.tostring(target))
            copy.tail = None
            parent.insert(parent.index(target) + rng.randint(0, 1), copy)
        elif step == "comment":
            where = rng.choice([e for e in root.iter(etree.Element)])
            node = etree.Comment("x") if rng.random() < 0.5 else etree.ProcessingInstruction("pi", "y")
            where.insert(rng.randint(0, len(where)), node)
        elif step == "no-namespace":
            target.tag = etree.QName(target).localname
        elif step == "foreign":
            foreign = etree.SubElement(target if len(target) else parent, "{urn:example:other}Extra")
            foreign.text = "z"
        elif step == "value":
            leaf = rng.choice(_leaves(root))
            leaf.text = rng.choice(["", " ", "null", "NULL", " padded ", "2026-11-20", "20/11/2026", "2026/02/30",
                                    "2026/11/20T08:00:00", "x", "-1", "007", "true", "1", "yes", "cid:abc",
                                    "001.00.20.TT2", "vxp.saas.03", "28.22.H17", "٢٠٢٦/١١/٢٠"])
        elif step == "drop":
            parent.remove(target)
        elif step == "shuffle":
            children = list(parent)
            rng.shuffle(children)
            parent[:] = children
        elif step == "wrap":
            for encoded in root.iter(f"{E}ContentTransferEncoded"):
                text = encoded.text or ""
                encoded.text = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    out = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if "bytes" in steps:
        buffer = bytearray(out)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(buffer))
            buffer[at : at + rng.randint(0, 3)] = rng.choice([b"", b"=", b"&amp;", b"\n", b"!", b"<!--c-->", b"\xff"])
        out = bytes(buffer)
    return out


STEPS = ["repeat", "comment", "no-namespace", "foreign", "value", "drop", "shuffle", "wrap", "bytes"]


@settings(max_examples=250, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), source=st.integers(0, len(PACKETS)),
       steps=st.lists(st.sampled_from(STEPS), max_size=4))
def test_the_fast_read_answers_what_the_previous_read_answered(seed: int, source: int, steps: list[str]) -> None:
    rng = random.Random(seed)
    base = PACKETS[source] if source < len(PACKETS) else write_document(random_document(rng))
    data = mangle(base, rng, steps)
    fast = outcome(read_packet, data)
    with previous_reader():
        previous = outcome(read_packet, data)
    assert fast == previous


def test_the_oracle_is_really_the_previous_layer() -> None:
    """Guard against a patch that silently patches nothing (the property would then compare a reader with
    itself)."""
    with previous_reader():
        assert read_tree._Ctx is ref._Ctx
        assert read_header._text is ref._text
        assert read_header._texts is _reference_texts
        assert read_trace._all is _reference_all
        assert payloads._only_base64 is _reference_only_base64


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 8))
def test_character_check_counts_whitespace(body: bytes, pad: int) -> None:
    body = body[:pad] + body[pad:].translate(None, b"<")
    expected = _reference_only_base64(body, 0, len(body))
    counted = payloads._only_base64(body, 0, len(body))
    assert (counted is None) == (expected is None)
    if counted is not None:
        assert counted == sum(body.count(ch) for ch in (b" ", b"\t", b"\r", b"\n"))
        assert payloads.Payload(body, 0, len(body), counted).problem() == payloads.Payload(body, 0, len(body)).problem()


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.text(alphabet="0123456789/ :-T١x", max_size=21), st.sampled_from([10, 19]))
def test_canonical_date_fields_as_before(text: str, length: int) -> None:
    assert formats._canonical_fields(text, length) == ref._canonical_fields(text, length)


def test_agency_matcher_answers_like_is_accepted(monkeypatch: object) -> None:
    values = ["000.00.12.H10", "001.00.20.TT2", "vxp.saas.03", "28.22.H17", "", "x" * 41, "null", "000.00.12.h10"]
    assert [agency_ids.matcher()(v) for v in values] == [agency_ids.is_accepted(v) for v in values]
    with mock.patch.dict("os.environ", {agency_ids.ENV: r"[a-z]+"}):
        assert [agency_ids.matcher()(v) for v in values] == [agency_ids.is_accepted(v) for v in values]
        assert agency_ids.matcher()("null") and not agency_ids.matcher()("000.00.12.H10")


def test_business_doc_types_by_lookup_as_by_enum() -> None:
    for value in range(-2, 6):
        try:
            expected: BusinessDocType | None = BusinessDocType(value)
        except ValueError:
            expected = None
        assert read_trace._DOC_TYPES.get(value) is expected


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from([b"<a>", b"xmlns", b'xmlns="' + NAMESPACE.encode() + b'"', b"='x'", b'=""',
                                 b"xmlns:x=", b'"', b" ", NAMESPACE.encode(), b"xmlns =", b"</a>"]), max_size=8))
def test_namespace_shortcut_as_the_regex(parts: list[bytes]) -> None:
    skeleton = b"".join(parts)
    fast, slow = ref._Ctx(), ref._Ctx()
    read_tree._note_namespaces(fast, skeleton)
    declared = set(read_tree._XMLNS_RE.findall(skeleton))
    slow.foreign_namespaces = not declared <= read_tree._KNOWN_NAMESPACES
    slow.undeclares_default = b"" in declared
    assert (fast.foreign_namespaces, fast.undeclares_default) == (slow.foreign_namespaces, slow.undeclares_default)
