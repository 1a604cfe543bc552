"""Read-only pages (every role): home, log, entry + receipt, registry, clients, deliveries, documents, open
data, signatures. Each calls the same functions as the JSON APIs."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lgsp.audit.evidence import EvidenceError, receipt_for
from lgsp.audit.heads import HeadService
from lgsp.audit.query import get_entry
from lgsp.auth import clients
from lgsp.console import queries
from lgsp.console.redact import text_without_credentials
from lgsp.console.tree import agency_tree
from lgsp.console.web import ConsoleError, Viewer, render, runtime_of, viewer
from lgsp.delivery import operations as deliveries
from lgsp.documents.store import get_document, summary
from lgsp.store.bounds import fits_int64
from registry.declarative import current_state, export

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    data = queries.home(runtime_of(request))
    return render(request, "home.html", view, chart_json=json.dumps(data["chart"]), **data)


@router.get("/log", response_class=HTMLResponse)
def log(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    params = dict(request.query_params)
    f, ident, agency, errors = queries.log_filter(params)
    entries = [] if errors else queries.search_log(runtime_of(request).engine, f, ident, agency)
    older = entries[-1]["index"] if len(entries) == queries.PAGE else None
    return render(request, "log.html", view, status=422 if errors else 200, entries=entries, errors=errors,
                  params=params, older=older)


def _receipt(request: Request, index: int) -> dict[str, Any] | None:
    if not fits_int64(index):
        return None  # no entry can have that index (and the store could not even look it up)
    runtime = runtime_of(request)
    try:
        return receipt_for(runtime.engine, HeadService(runtime.engine, runtime.settings), index)
    except (EvidenceError, ValueError, LookupError):
        return None  # not yet covered by a signed head


@router.get("/log/{index}", response_class=HTMLResponse)
def entry(request: Request, index: int, view: Viewer = Depends(viewer)) -> HTMLResponse:
    found = get_entry(runtime_of(request).engine, index) if fits_int64(index) else None
    if found is None:
        raise ConsoleError(404, f"no audit entry {index}")
    receipt = _receipt(request, index)
    return render(request, "entry.html", view, entry=found, receipt=receipt,
                  receipt_json=json.dumps(receipt) if receipt else "")


@router.get("/log/{index}/receipt.json")
def receipt_download(request: Request, index: int, view: Viewer = Depends(viewer)) -> Response:
    receipt = _receipt(request, index)
    if receipt is None:
        raise ConsoleError(404, f"no receipt for entry {index} yet (no signed head covers it)")
    return Response(json.dumps(receipt, indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="lgsp-receipt-{index}.json"'})


@router.get("/registry", response_class=HTMLResponse)
def registry(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    engine = runtime_of(request).engine
    with Session(engine) as session:
        state = current_state(session)
    return render(request, "registry.html", view, state=state, tree=agency_tree(state.agencies),
                  yaml_text=_export_for(view, engine))


@router.get("/registry/export.yaml")
def registry_export(request: Request, view: Viewer = Depends(viewer)) -> Response:
    return Response(_export_for(view, runtime_of(request).engine), media_type="application/yaml",
                    headers={"Content-Disposition": 'attachment; filename="registry.yaml"'})


def _export_for(view: Viewer, engine: Engine) -> str:
    """The registry as YAML: whole for a role that may apply it back, provider credentials hidden otherwise."""
    text = export(engine)
    return text if view.can("registry.write") else text_without_credentials(text)


@router.get("/clients", response_class=HTMLResponse)
def clients_page(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    keys = runtime.keyring.jwks().get("keys", [])
    return render(request, "clients.html", view, clients=clients.list_clients(runtime.engine), keys=keys,
                  issued=None, errors={})


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries_page(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    engine = runtime_of(request).engine
    state = request.query_params.get("state") or None
    if state is not None and state not in deliveries.STATES:
        raise ConsoleError(404, f"no delivery state {state!r}")
    return render(request, "deliveries.html", view, counts=deliveries.counts(engine), state=state,
                  messages=deliveries.list_messages(engine, state=state, limit=100), done=None)


@router.get("/documents", response_class=HTMLResponse)
def documents(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    engine = runtime_of(request).engine
    return render(request, "documents.html", view, documents=queries.documents(engine),
                  dossiers=queries.dossier_pushes(engine))


@router.get("/documents/{doc_id}", response_class=HTMLResponse)
def document(request: Request, doc_id: str, view: Viewer = Depends(viewer)) -> HTMLResponse:
    found = get_document(runtime_of(request).engine, doc_id)
    if found is None:
        raise ConsoleError(404, f"no document {doc_id}")
    doc, delivery, statuses = found
    return render(request, "document.html", view, doc=summary(doc, delivery), statuses=statuses)


@router.get("/opendata", response_class=HTMLResponse)
def opendata(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    return render(request, "opendata.html", view, datasets=queries.datasets(runtime_of(request).engine))


@router.get("/signatures", response_class=HTMLResponse)
def signatures(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    return render(request, "signatures.html", view, report=None, report_text=None, error=None,
                  configured=runtime_of(request).verifier is not None)
