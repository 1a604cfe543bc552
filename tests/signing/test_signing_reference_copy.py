"""The one-copy check of a whole-document reference gives the verdict, the covered bytes and the messages
that signxml's own serialise-and-reparse path gives, for documents that stress canonicalisation."""

from __future__ import annotations

from typing import Any

import pytest

from signing import Verifier
from signing.report import Report
from signing.testing import TestPki, edxml_document, sign_xml

TRICKY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<doc xmlns="urn:a" xmlns:p="urn:p" p:x="1&#10;2&#9;3">\n'
    "  <!-- comment inside -->\n"
    '  <?pi data?>\n'
    "  <p:part xml:lang='vi' b='2' a=\"1\"><![CDATA[<not markup> & more]]> &#13; Nội dung văn bản</p:part>\n"
    '  <inner xmlns="urn:b"><deep xmlns=""><x/></deep></inner>\n'
    "</doc>\n"
).encode()


def documents(pki: TestPki) -> dict[str, bytes]:
    edxml = sign_xml(edxml_document(filler_bytes=2_000), pki.good)
    tricky = sign_xml(TRICKY, pki.good)
    tricky_exc = sign_xml(TRICKY, pki.good, exclusive_c14n=True)
    return {
        "edxml": edxml,
        "edxml xades": sign_xml(edxml_document(), pki.good, xades=True),
        "edxml exclusive": sign_xml(edxml_document(), pki.good, exclusive_c14n=True),
        "edxml default namespace": sign_xml(edxml_document(), pki.good, default_namespace=True),
        "edxml sha1": sign_xml(edxml_document(), pki.good, legacy_sha1=True),
        "edxml tampered": edxml.replace(b"Ve viec", b"Ve vIec", 1),
        "edxml tampered attachment": edxml.replace(b"JVBERi0xLjQK", b"JVBERi0xLjUK", 1),
        "edxml signed twice": sign_xml(sign_xml(edxml_document(), pki.good), pki.ec),
        "tricky": tricky,
        "tricky exclusive": tricky_exc,
        "tricky whitespace changed": tricky.replace(b"\n  <inner", b"\n   <inner", 1),
        "top-level comment": b"<!-- before -->" + tricky.split(b"?>", 1)[1],
        "edxml bom": b"\xef\xbb\xbf" + edxml,
    }


def summary(report: Report) -> list[tuple[Any, ...]]:
    return [(s.indication, s.sub_indication, [(c.description, c.sha256, c.size) for c in s.covered],
             s.errors, s.warnings, s.signed_content) for s in report.signatures] + [
        (report.document_indication, report.errors)]


def test_one_copy_and_signxml_copies_agree(verifier: Verifier, pki: TestPki, monkeypatch: pytest.MonkeyPatch) -> None:
    from signing import xmlsignxml

    fast_runs: list[int] = []
    real_remove = xmlsignxml._remove_sig

    def counting_remove(*args: Any, **kwargs: Any) -> None:
        fast_runs.append(1)
        real_remove(*args, **kwargs)

    docs = documents(pki)
    monkeypatch.setattr(xmlsignxml, "_remove_sig", counting_remove)
    fast, runs = {}, {}
    for name, data in docs.items():
        fast_runs.clear()
        fast[name] = summary(verifier.verify(data))
        runs[name] = len(fast_runs)
    assert runs == {name: 0 if name == "top-level comment" else 2 if name == "edxml signed twice" else 1
                    for name in docs}
    monkeypatch.setattr("signing.xmldsig._ascii_compatible", lambda data: False)  # never pristine: signxml's path
    fast_runs.clear()
    slow = {name: summary(verifier.verify(data)) for name, data in docs.items()}
    assert fast_runs == []
    for name in docs:
        assert fast[name] == slow[name], name
    assert fast["edxml"][0][0] == "TOTAL_PASSED" and fast["tricky"][0][0] == "TOTAL_PASSED"
    assert fast["edxml tampered"][0][1] == "HASH_FAILURE"
    assert fast["tricky whitespace changed"][0][1] == "HASH_FAILURE"


def test_an_invalid_or_repeated_xml_id_is_still_refused_as_signxml_refuses_it(verifier: Verifier,
                                                                               pki: TestPki) -> None:
    signed = sign_xml(edxml_document(), pki.good)
    for bad in (b'<CodeNumber xml:id="1 x">', b'<CodeNumber xml:id="a"><b xml:id="a"/>'):
        text = verifier.verify(signed.replace(b"<CodeNumber>", bad, 1)).signatures[0]
        assert text.sub_indication == "FORMAT_FAILURE", text
