"""Peak memory of the worst XML input at each entry point, as a multiple of the body size (issue 19.3).

Each case runs in a fresh subprocess: it builds the real app (SQLite in a temp folder), warms it up with
one small request, then resets the kernel's peak-RSS mark (``/proc/self/clear_refs`` = 5) and sends the
hostile body through Starlette's TestClient. ``peak`` is VmHWM minus VmRSS before the request (what the
request cost at its worst moment), ``after`` is VmRSS after the request and a GC minus the same baseline
(memory not returned). Cases:

* ``documents-10MB-empty`` / ``documents-50MB-empty``: ``POST /documents``, 10 MB / 50 MB of empty
  elements in one field (the attack of issue 19.3, which cost 1.3 GB / 6.4 GB on main);
* ``documents-10MB-deep``: 10 MB of nested elements;
* ``signatures-10MB-empty`` / ``signatures-50MB-empty``: ``POST /signatures/verify`` with a token;
* ``soap-10MB-empty``: a SOAP pass-through envelope just under the 10 MiB body limit;
* ``baseline-unbounded-10MB-empty``: the same 10 MB parsed the way main did (hardened lxml parser, no
  pre-scan) and walked once, as the edXML reader walks every element — the cost the bounds remove;
* ``documents-9MB-attachment``: a *legitimate* packet with a 9 MB attachment, accepted (202) — the
  baseline a bound must not break; ``-signed``: the same packet signed, with signature checking on (the
  verifier, then lgsp's whole-packet coverage check: the costliest accepted input).

Headline ``ratio`` = the largest peak / body size over the cases (target < 10). Last line: one JSON object.

Usage: ``.venv/bin/python bench/xml_limits.py [--case NAME]``
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = ("baseline-unbounded-10MB-empty", "documents-10MB-empty", "documents-50MB-empty", "documents-10MB-deep",
         "documents-9MB-attachment", "documents-9MB-attachment-signed", "signatures-10MB-empty",
         "signatures-50MB-empty", "soap-10MB-empty")
MB = 1_000_000
SENDER, PEER = "000.00.12.H10", "000.00.00.G22"


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _packet(filler: bytes = b"", attachment: bytes | None = None) -> bytes:
    from datetime import date, datetime

    from adapters.vdxp.edxml import (
        Attachment,
        Business,
        Code,
        DocumentPacket,
        DocumentType,
        MessageHeader,
        Organization,
        PromulgationInfo,
        TraceHeader,
        TraceHeaderList,
        new_content_id,
        write_document,
    )

    header = MessageHeader(
        from_=Organization(SENDER, organ_name="Sở Thông tin và Truyền thông"), to=[Organization(PEER)],
        document_id=f"{SENDER},2026/12/06,1/STTTT-VP", code=Code("1", "STTTT-VP"),
        promulgation_info=PromulgationInfo(date(2026, 12, 6), "Cần Thơ"), document_type=DocumentType(1, 1, "Công văn"),
        subject="V/v thử giới hạn XML", content="Nội dung")
    files = [Attachment(new_content_id(), "congvan.pdf", attachment or b"%PDF-1.7 test\n", "application/pdf", "CV")]
    trace = TraceHeaderList([TraceHeader(SENDER, datetime(2026, 12, 6, 8, 0))], Business())
    data = write_document(DocumentPacket(header, trace, files))
    return data.replace(b"<Content>", b"<Content>" + filler, 1)


def _body(case: str) -> tuple[str, bytes, str]:
    """(path, body, content type) of a case."""
    if case.startswith("documents"):
        if case.startswith("documents-9MB-attachment"):
            pdf = b"%PDF-1.7 " + b"x" * (9 * MB // 4 * 3)  # 9 MB once base64-encoded
            return "/documents?kind=edoc", _packet(attachment=pdf), "application/xml"
        size = 50 * MB if "50MB" in case else 10 * MB
        filler = b"<x>" * (size // 7) + b"</x>" * (size // 7) if "deep" in case else b"<x/>" * (size // 4)
        return "/documents?kind=edoc", _packet(filler), "application/xml"
    if case.startswith("signatures"):
        size = 50 * MB if "50MB" in case else 10 * MB
        return "/signatures/verify", b"<r><f>" + b"<a/>" * (size // 4) + b"</f></r>", "application/xml"
    envelope = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>'
                + b"<a/>" * (10 * 1024 * 1024 // 4 - 64) + b"</x></s:Body></s:Envelope>")
    return f"/services/{PEER}/NGSP/csdl-quoc-gia/XacThucThongTinCongDan", envelope, "text/xml"


def run_baseline() -> dict[str, Any]:
    from lxml import etree

    from lgsp.safexml import hardened_parser

    body = b"<r><f>" + b"<a/>" * (10 * MB // 4) + b"</f></r>"
    gc.collect()
    before = _status_kb("VmRSS")
    _reset_peak()
    started = time.perf_counter()
    root = etree.fromstring(body, hardened_parser())
    walked = sum(1 for element in root.iter() if element.tag)
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    del root
    gc.collect()
    after = _status_kb("VmRSS")
    return {"case": "baseline-unbounded-10MB-empty", "status": walked, "body_mb": len(body) / MB,
            "peak_mb": (peak - before) / 1024, "after_mb": max(0, after - before) / 1024,
            "peak_ratio": (peak - before) * 1024 / len(body), "seconds": round(seconds, 3), "detail": ""}


def run_case(case: str) -> dict[str, Any]:
    if case.startswith("baseline"):
        return run_baseline()
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from lgsp.app import create_app
    from lgsp.auth.clients import create_client
    from lgsp.documents.models import AxisAgency
    from lgsp.settings import Settings
    from registry.declarative import apply, parse_registry_file
    from signing.testing import build_pki

    tmp = Path(tempfile.mkdtemp(prefix="lgsp-xml-bench-"))
    pki = build_pki("http://127.0.0.1:9")
    (tmp / "root.pem").write_bytes(pki.root_pem)
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp / 'b.db'}", access_log=False,
                                   trust_paths=str(tmp / "root.pem"), audit_heads_enabled=False))
    engine = app.runtime.engine
    apply(engine, parse_registry_file(f"""
agencies: [{{code: {SENDER}, name: STTTT}}, {{code: {PEER}, name: VPCP}}]
systems:
  - {{id: {SENDER}/QLVB, name: QLVB}}
  - {{id: {PEER}/NGSP, name: NGSP, client: false, provider: true}}
services:
  - {{id: {PEER}/NGSP/csdl-quoc-gia, name: CSDL, kind: soap, base_url: "http://127.0.0.1:9",
      wsdl_path: wsdl/ngsp/ngsp.wsdl, timeout_seconds: 1, retry_attempts: 0}}
grants:
  - {{client: {SENDER}/QLVB, service: {PEER}/NGSP/csdl-quoc-gia, methods: [POST]}}
object_grants:
  - {{client: {SENDER}/QLVB, objects: documents, agency: {SENDER}}}
"""))
    from datetime import UTC, datetime

    with Session(engine) as session, session.begin():
        for code in (SENDER, PEER):
            session.add(AxisAgency(code=code, name=code, pid="", mail="", code102=code, synced_at=datetime.now(UTC)))
    cred = create_client(engine, f"{SENDER}/QLVB", ["gateway"])
    app.runtime.registry_changed()
    app.api.state.documents_signature_hook = None
    path, body, content_type = _body(case)
    if case.endswith("-signed"):
        from signing import Policy, TrustStore, Verifier
        from signing.testing import sign_xml

        body = sign_xml(body, pki.good)
        verifier = Verifier(TrustStore.from_pem(pki.root_pem), Policy().with_levels(revocation_available="ignore"))
        app.api.state.documents_signature_hook = lambda data, info: verifier.verify(data, "application/xml")
    with TestClient(app) as client:
        token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(cred.client_id, cred.client_secret)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        client.post("/signatures/verify", content=b"<r/>", headers=headers)  # warm-up: imports, caches
        client.post("/documents?kind=edoc", content=_packet(), headers=headers)
        gc.collect()
        before = _status_kb("VmRSS")
        _reset_peak()
        started = time.perf_counter()
        reply = client.post(path, content=body, headers=headers)
        seconds = time.perf_counter() - started
        peak = _status_kb("VmHWM")
        status = reply.status_code
        detail = reply.text[:200] if status >= 400 else ""
        del reply
        gc.collect()
        after = _status_kb("VmRSS")
    mb = 1024.0  # kB per MiB
    return {"case": case, "status": status, "body_mb": len(body) / MB, "peak_mb": (peak - before) / mb,
            "after_mb": max(0, after - before) / mb, "peak_ratio": (peak - before) * 1024 / len(body),
            "seconds": round(seconds, 3), "detail": detail}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=CASES)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    results = []
    for case in CASES:
        out = subprocess.run([sys.executable, __file__, "--case", case], capture_output=True, text=True, check=False)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode != 0 or not lines:
            print(f"{case}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            sys.exit(1)
        results.append(json.loads(lines[-1]))
    print(f"{'case':28} {'status':>6} {'body MB':>8} {'peak MB':>8} {'after MB':>8} {'x body':>7} {'s':>6}")
    for r in results:
        print(f"{r['case']:28} {r['status']:>6} {r['body_mb']:>8.1f} {r['peak_mb']:>8.1f} {r['after_mb']:>8.1f} "
              f"{r['peak_ratio']:>7.2f} {r['seconds']:>6.2f}")
    ratio = max(r["peak_ratio"] for r in results if not r["case"].startswith("baseline"))
    baseline = results[0]["peak_ratio"]
    print(f"baseline (unbounded parse of 10 MB of empty elements): {baseline:.1f}x the body")
    print(f"ratio {ratio:.2f} (largest peak RSS / body size over the entry points; target < 10)")
    print(json.dumps({"ratio": round(ratio, 2), "cases": results}))


if __name__ == "__main__":
    main()
