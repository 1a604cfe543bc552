"""An edXML producer's output (``--edxml-dir``): safe, schema-valid, complete, coherent statuses."""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path

import pytest
from edxml_checks import (
    E,
    attachment_problems,
    kind,
    parse,
    read_packet,
    required_field_problems,
    schema_errors,
    signature_notes,
    summary,
)
from lxml import etree
from packets import TRANSITIONS


def _root(producer_file: Path | None) -> etree._Element:
    if producer_file is None:
        pytest.skip("no producer output: pass --edxml-dir DIR")
    return parse(read_packet(producer_file))


def test_packet_is_well_formed_without_dtd(producer_file: Path | None) -> None:
    root = _root(producer_file)
    assert root.tag == f"{E}edXML"


def test_packet_validates_against_the_edxml_schema(producer_file: Path | None) -> None:
    errors = schema_errors(_root(producer_file))
    assert errors == [], summary(errors)


def test_required_fields_are_present(producer_file: Path | None) -> None:
    problems = required_field_problems(_root(producer_file))
    assert not problems, summary(problems)


def test_signature_placement_is_reported(producer_file: Path | None) -> None:
    """A Signature in the edXML namespace is a known producer mistake: lgsp carries such packets, so this
    is a warning in the report, not a failure."""
    for note in signature_notes(_root(producer_file)):
        warnings.warn(note, stacklevel=1)


def test_manifest_matches_attachments(producer_file: Path | None) -> None:
    root = _root(producer_file)
    if kind(root) == "status":
        assert root.find(f"{E}AttachmentEncoded") is None, "status packets carry no attachments"
        return
    problems = attachment_problems(root)
    assert not problems, summary(problems)


def test_status_sequences_follow_valid_transitions(producer_files: list[Path]) -> None:
    """Per (document, reporting agency), the codes in Timestamp order must be valid transitions.

    A file that cannot be read or parsed is left out here: its own checks already fail and name it.
    """
    sequences: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for path in producer_files:
        try:
            root = parse(read_packet(path))
        except AssertionError:
            continue
        if root.tag != f"{E}edXML" or kind(root) != "status":
            continue
        mh = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}MessageHeader")
        if mh is None:
            continue
        key = (
            (mh.findtext(f"{E}ResponseFor/{E}DocumentId") or "").strip(),
            (mh.findtext(f"{E}From/{E}OrganId") or "").strip(),
        )
        sequences[key].append(((mh.findtext(f"{E}Timestamp") or "").strip(), (mh.findtext(f"{E}StatusCode") or "")))
    if not sequences:
        pytest.skip("the producer output has no status packets")
    problems = []
    for key, events in sequences.items():
        current: str | None = None
        for _stamp, code in sorted(events):
            if code not in TRANSITIONS.get(current, set()):
                problems.append(f"{key}: {current or 'start'} → {code}")
            current = code
    assert problems == [], summary(problems)
