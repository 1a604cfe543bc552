"""Changes made through the console. Each one: session + CSRF + Origin check, the role's permission (403
otherwise), the same function the admin API and CLI call, and an audit entry naming the person."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lgsp.auth import clients
from lgsp.auth.clients import ClientError
from lgsp.console import queries
from lgsp.console.tree import agency_tree
from lgsp.console.web import (
    MAX_FORM,
    ConsoleError,
    Viewer,
    audit_action,
    form_of,
    render,
    require,
    runtime_of,
    viewer,
)
from lgsp.delivery import operations as deliveries
from lgsp.runtime import Runtime
from registry.declarative import RegistryFileError, apply, current_state, parse_registry_file
from registry.operations import RegistryError

router = APIRouter()
MAX_YAML = 2 * 1024 * 1024
MAX_PURGE_DAYS = 36_500  # a century: older than any message


async def _guard(request: Request, view: Viewer, permission: str, action: str,
                 limit: int = MAX_FORM) -> dict[str, object]:
    """CSRF first (a forged form learns nothing), then the role; a refusal is audited too."""
    form = await form_of(request, view, limit)
    if not view.can(permission):
        await audit_action(request, view.person, action, "refused: role", 403)
        require(view, permission)
    return form


@router.post("/registry/preview", response_class=HTMLResponse)
async def registry_preview(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    form = await _guard(request, view, "registry.write", "registry.preview")
    text = str(form.get("yaml", ""))
    return await _registry_result(request, view, text, apply_now=False)


@router.post("/registry/apply", response_class=HTMLResponse)
async def registry_apply(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    form = await _guard(request, view, "registry.write", "registry.apply")
    return await _registry_result(request, view, str(form.get("yaml", "")), apply_now=True)


async def _registry_result(request: Request, view: Viewer, text: str, apply_now: bool) -> HTMLResponse:
    """Parse, check, diff (or apply) and render in a worker thread: PyYAML needs seconds per MiB, and on the
    event loop one big file stopped the whole gateway (every API call, not just the console) meanwhile."""
    runtime = runtime_of(request)
    changes, error = await run_in_threadpool(_check_registry, runtime, text, apply_now)
    if apply_now and error is None:
        runtime.registry_changed()
        await audit_action(request, view.person, "registry.apply", f"{len(changes)} changes", 200)
    return await run_in_threadpool(_registry_page, request, view, text, changes, error, apply_now)


def _check_registry(runtime: Runtime, text: str, apply_now: bool) -> tuple[list[Any], str | None]:
    if len(text.encode()) > MAX_YAML:
        return [], f"the file is larger than {MAX_YAML // 1024} KiB"
    try:
        desired = parse_registry_file(text)
        return apply(runtime.engine, desired, dry_run=not apply_now, prune=True,
                     schemas_dir=Path(runtime.settings.schemas_dir)), None
    except (RegistryFileError, RegistryError) as exc:
        return [], f"{getattr(exc, 'field', '')}: {exc}" if isinstance(exc, RegistryError) else str(exc)
    except Exception as exc:  # YAML syntax and the like: shown next to the editor
        return [], f"{type(exc).__name__}: {str(exc)[:300]}"


def _registry_page(request: Request, view: Viewer, text: str, changes: list[Any], error: str | None,
                   applied: bool) -> HTMLResponse:
    with Session(runtime_of(request).engine) as session:
        state = current_state(session)
    return render(request, "registry.html", view, status=422 if error else 200, state=state,
                  tree=agency_tree(state.agencies), yaml_text=text, changes=[c.render() for c in changes], error=error,
                  applied=applied and error is None)


@router.post("/clients", response_class=HTMLResponse)
async def create_client(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    form = await _guard(request, view, "clients.write", "clients.create")
    runtime = runtime_of(request)
    system = str(form.get("system", "")).strip() or None
    scopes = [s for s in str(form.get("scopes", "gateway")).split() if s]
    errors: dict[str, str] = {}
    issued = None
    try:
        issued = await run_in_threadpool(clients.create_client, runtime.engine, system, scopes,
                                         str(form.get("description", ""))[:300])  # scrypt: not on the loop
    except (ClientError, RegistryError, ValueError) as exc:
        errors[getattr(exc, "field", "system") or "system"] = str(exc)
    if issued is not None:
        await audit_action(request, view.person, "clients.create", issued.client_id, 201)
    keys = runtime.keyring.jwks().get("keys", [])
    return render(request, "clients.html", view, status=422 if errors else 200,
                  clients=await run_in_threadpool(clients.list_clients, runtime.engine), keys=keys, issued=issued,
                  errors=errors)


@router.post("/clients/{client_id}/disable")
async def disable_client(request: Request, client_id: str, view: Viewer = Depends(viewer)) -> Response:
    await _guard(request, view, "clients.write", "clients.disable")
    runtime = runtime_of(request)
    try:
        await run_in_threadpool(clients.set_disabled, runtime.engine, client_id, True)
    except ClientError as exc:  # unknown client, or the last enabled admin client (issue 19.6)
        raise ConsoleError(404 if str(exc).startswith("no client") else 422, str(exc)) from exc
    runtime.registry_changed()
    await audit_action(request, view.person, "clients.disable", client_id, 200)
    return RedirectResponse(request.url_for("clients_page"), status_code=303)


@router.post("/keys/rotate")
async def rotate_keys(request: Request, view: Viewer = Depends(viewer)) -> Response:
    await _guard(request, view, "keys.rotate", "keys.rotate")
    kid = await run_in_threadpool(runtime_of(request).keyring.rotate)  # key generation, maybe in an HSM
    await audit_action(request, view.person, "keys.rotate", kid, 200)
    return RedirectResponse(request.url_for("clients_page"), status_code=303)


@router.post("/deliveries/replay", response_class=HTMLResponse)
async def replay(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    form = await _guard(request, view, "deliveries.write", "deliveries.replay")
    if form.get("confirm") != "yes":
        raise ConsoleError(422, "tick the confirmation box to replay")
    runtime = runtime_of(request)
    message_id = str(form.get("message_id", ""))
    try:
        done = await run_in_threadpool(deliveries.replay, runtime.engine, [message_id],
                                       operator=f"console:{view.person.username}")
    except deliveries.OperationError as exc:
        raise ConsoleError(404 if "no message" in str(exc) else 409, str(exc)) from exc
    await audit_action(request, view.person, "deliveries.replay", message_id, 202)
    return render(request, "deliveries.html", view, counts=deliveries.counts(runtime.engine), state=None,
                  messages=deliveries.list_messages(runtime.engine, limit=100),
                  done=f"replayed {len(done)} message(s)")


@router.post("/deliveries/purge", response_class=HTMLResponse)
async def purge(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    form = await _guard(request, view, "deliveries.write", "deliveries.purge")
    if form.get("confirm") != "yes":
        raise ConsoleError(422, "tick the confirmation box to purge")
    try:
        days = int(str(form.get("days", "30")))
        if not 1 <= days <= MAX_PURGE_DAYS:  # past that the cut-off date is before year 1: a 500 before
            raise ValueError
    except ValueError as exc:
        raise ConsoleError(422, f"days must be a whole number from 1 to {MAX_PURGE_DAYS}") from exc
    runtime = runtime_of(request)
    gone = await run_in_threadpool(deliveries.purge, runtime.engine, timedelta(days=days))
    await audit_action(request, view.person, "deliveries.purge", f"older than {days} days: {gone}", 200)
    return render(request, "deliveries.html", view, counts=deliveries.counts(runtime.engine), state=None,
                  messages=deliveries.list_messages(runtime.engine, limit=100), done=f"purged {gone} message(s)")


@router.post("/signatures", response_class=HTMLResponse)
async def verify_upload(request: Request, view: Viewer = Depends(viewer)) -> HTMLResponse:
    verifier = runtime_of(request).verifier
    limit = MAX_FORM + (verifier.policy.max_document_bytes if verifier is not None else 0)
    form = await _guard(request, view, "signatures.verify", "signatures.verify", limit)
    upload = form.get("file")
    error = None
    report = None
    if verifier is None:
        error = "no trust store is configured (LGSP_TRUST_*): see docs/signatures.md"
    elif upload is None or isinstance(upload, str):
        error = "choose a file"
    else:
        data = await upload.read()  # type: ignore[attr-defined]
        if not data:
            error = "the file is empty"
        elif len(data) > verifier.policy.max_document_bytes:
            error = f"the file is larger than {verifier.policy.max_document_bytes} bytes"
        else:
            report = await run_in_threadpool(verifier.verify, data, getattr(upload, "content_type", None))
    if report is not None:
        await audit_action(request, view.person, "signatures.verify", report.indication.value, 200)
    return render(request, "signatures.html", view, status=422 if error else 200, error=error,
                  report=report.to_dict() if report else None, report_text=report.render_text() if report else None,
                  configured=verifier is not None)


@router.post("/audit/sign-head")
async def sign_head(request: Request, view: Viewer = Depends(viewer)) -> Response:
    await _guard(request, view, "audit.sign_head", "audit.sign_head")
    runtime = runtime_of(request)
    from lgsp.audit.heads import HeadService

    head = await run_in_threadpool(HeadService(runtime.engine, runtime.settings).sign, True)
    await audit_action(request, view.person, "audit.sign_head", str(getattr(head, "tree_size", "")), 200)
    return RedirectResponse(str(request.url_for("home")), status_code=303)


__all__ = ["queries", "router"]
