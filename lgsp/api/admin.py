"""Admin REST API for the registry, clients and keys (admin scope only).

It calls the same `registry.operations` as the CLI and `lgsp apply`, with request bodies made from the same
spec classes (lgsp.api.bodies), so the three ways of managing the registry cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as FastApiPath
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from lgsp.api.bodies import STRICT, AgencyIn, GrantIn, ServiceIn, SystemIn
from lgsp.api.deps import caller_with, runtime_of
from lgsp.api.models import (
    AgencyOut,
    ClientOut,
    GrantOut,
    IssuedClient,
    RevokedTokens,
    RotatedKey,
    RotatedSecret,
    ServiceOut,
    SystemOut,
)
from lgsp.api.openapi import problems
from lgsp.api.routing import StrictJsonRoute
from lgsp.auth import clients
from lgsp.auth.tokens import ClientIdentity
from lgsp.store.bounds import INT64_MAX, INT64_MIN
from lgsp.store.db import writer
from registry import operations as ops
from registry.models import Agency, Grant, Service, System

#: a write names objects (404 when one does not exist) and is checked (422 names the field)
WRITE = problems(404, (422, "validation-failed"))
INVALID = problems((422, "validation-failed"))

router = APIRouter(route_class=StrictJsonRoute, prefix="/admin", tags=["admin"],
                   dependencies=[Depends(caller_with("admin"))])


class ClientIn(BaseModel):
    model_config = STRICT

    system: str | None = None
    scopes: list[str] = ["gateway"]
    description: str = Field("", max_length=clients.MAX_DESCRIPTION)


def _session(request: Request) -> Session:
    return Session(writer(runtime_of(request).engine))


def _changed(request: Request) -> None:
    runtime_of(request).registry_changed()


@router.get("/agencies", response_model=list[AgencyOut], summary="Agencies in the registry")
def list_agencies(request: Request) -> list[dict[str, Any]]:
    with _session(request) as session:
        return [{"code": a.code, "name": a.name, "parent": a.parent_code}
                for a in session.scalars(select(Agency).order_by(Agency.code))]


@router.put("/agencies/{code}", response_model=AgencyOut, responses=WRITE,
            summary="Create or update an agency")
def put_agency(code: str, body: AgencyIn, request: Request) -> dict[str, Any]:
    with _session(request) as session, session.begin():
        agency = ops.upsert_agency(session, ops.AgencySpec(code, **body.model_dump()))
        result = {"code": agency.code, "name": agency.name, "parent": agency.parent_code}
    _changed(request)
    return result


@router.delete("/agencies/{code}", status_code=204, responses=WRITE, summary="Delete an agency")
def delete_agency(code: str, request: Request) -> None:
    with _session(request) as session, session.begin():
        ops.delete_agency(session, code)
    _changed(request)


@router.get("/systems", response_model=list[SystemOut], summary="Systems in the registry")
def list_systems(request: Request) -> list[dict[str, Any]]:
    with _session(request) as session:
        return [{"id": s.id, "name": s.name, "client": s.is_client, "provider": s.is_provider, "jwks": s.jwks,
                 "client_cert_sha256": s.client_cert_sha256}
                for s in session.scalars(select(System).order_by(System.id))]


@router.put("/systems/{agency}/{code}", response_model=SystemOut, responses=WRITE,
            summary="Create or update a system of an agency")
def put_system(agency: str, code: str, body: SystemIn, request: Request) -> dict[str, Any]:
    with _session(request) as session, session.begin():
        system = ops.upsert_system(session, ops.SystemSpec(agency, code, **body.model_dump()))
        result = {"id": system.id, "name": system.name, "client": system.is_client,
                  "provider": system.is_provider, "jwks": system.jwks,
                  "client_cert_sha256": system.client_cert_sha256}
    _changed(request)
    return result


@router.delete("/systems/{agency}/{code}", status_code=204, responses=WRITE, summary="Delete a system")
def delete_system(agency: str, code: str, request: Request) -> None:
    with _session(request) as session, session.begin():
        ops.delete_system(session, f"{agency}/{code}")
    _changed(request)


def _service_out(service: Service) -> dict[str, Any]:
    return {"id": service.id, "name": service.name, "kind": service.kind, "base_url": service.base_url,
            "wsdl_path": service.wsdl_path, "timeout_seconds": service.timeout_seconds,
            "retry_attempts": service.retry_attempts, "retry_backoff_seconds": service.retry_backoff_seconds,
            "idempotent_methods": service.idempotent_methods, "max_body_bytes": service.max_body_bytes,
            "signature_policy": service.signature_policy, "keep_bodies": service.keep_bodies}


@router.get("/services", response_model=list[ServiceOut], summary="Services in the registry")
def list_services(request: Request) -> list[dict[str, Any]]:
    with _session(request) as session:
        return [_service_out(s) for s in session.scalars(select(Service).order_by(Service.id))]


@router.put("/services/{agency}/{system}/{code}", response_model=ServiceOut, responses=WRITE,
            summary="Create or update a service of a provider system")
def put_service(agency: str, system: str, code: str, body: ServiceIn, request: Request) -> dict[str, Any]:
    spec = ops.ServiceSpec(system=f"{agency}/{system}", code=code, **body.model_dump())
    with _session(request) as session, session.begin():
        result = _service_out(ops.upsert_service(session, spec, Path(runtime_of(request).settings.schemas_dir)))
    _changed(request)
    return result


@router.delete("/services/{agency}/{system}/{code}", status_code=204, responses=WRITE,
               summary="Delete a service")
def delete_service(agency: str, system: str, code: str, request: Request) -> None:
    with _session(request) as session, session.begin():
        ops.delete_service(session, f"{agency}/{system}/{code}")
    _changed(request)


def _grant_out(grant: Grant) -> dict[str, Any]:
    return {"id": grant.id, "client": grant.client_system_id, "service": grant.service_id,
            "methods": grant.methods.split(","), "path": grant.path_pattern}


@router.get("/grants", response_model=list[GrantOut], summary="Grants: which client system may call what")
def list_grants(request: Request) -> list[dict[str, Any]]:
    with _session(request) as session:
        return [_grant_out(g) for g in session.scalars(select(Grant).order_by(Grant.id))]


@router.post("/grants", status_code=201, response_model=GrantOut, responses=WRITE, summary="Add a grant")
def post_grant(body: GrantIn, request: Request) -> dict[str, Any]:
    with _session(request) as session, session.begin():
        grant = ops.add_grant(session, ops.GrantSpec(**body.model_dump()))
        session.flush()
        result = _grant_out(grant)
    _changed(request)
    return result


@router.delete("/grants/{grant_id}", status_code=204, responses=WRITE, summary="Delete a grant")
def delete_grant(request: Request, grant_id: int = FastApiPath(ge=INT64_MIN, le=INT64_MAX)) -> None:
    with _session(request) as session, session.begin():
        ops.delete_grant(session, grant_id)
    _changed(request)


@router.get("/clients", response_model=list[ClientOut], summary="OAuth2 clients (secrets are never shown)")
def list_clients(request: Request) -> list[dict[str, Any]]:
    return [{"client_id": c.client_id, "system": c.system_id, "scopes": c.scopes.split(),
             "disabled": c.disabled, "description": c.description}
            for c in clients.list_clients(runtime_of(request).engine)]


@router.post("/clients", status_code=201, response_model=IssuedClient, responses=INVALID,
             summary="Create a client; the secret is in this answer only")
def post_client(body: ClientIn, request: Request) -> dict[str, Any]:
    issued = clients.create_client(runtime_of(request).engine, body.system, body.scopes, body.description)
    return {"client_id": issued.client_id, "client_secret": issued.client_secret, "system": issued.system_id,
            "scopes": issued.scopes}


@router.post("/clients/{client_id}/rotate-secret", response_model=RotatedSecret,
             responses=INVALID, summary="Issue a new secret (the old one stops working)")
def rotate_client_secret(client_id: str, request: Request) -> dict[str, Any]:
    """A new secret; tokens issued with the old one are refused from now on (client-level not-before)."""
    runtime = runtime_of(request)
    issued = clients.rotate_secret(runtime.engine, client_id)
    runtime.registry_changed()
    return {"client_id": issued.client_id, "client_secret": issued.client_secret}


@router.post("/clients/{client_id}/revoke-tokens", responses=INVALID, response_model=RevokedTokens,
             summary="Refuse every token issued to this client so far")
def revoke_client_tokens(client_id: str, request: Request) -> dict[str, Any]:
    """Refuse every token issued to this client so far; its secret stays valid for new tokens."""
    runtime = runtime_of(request)
    not_before = clients.revoke_tokens(runtime.engine, client_id)
    runtime.registry_changed()
    return {"client_id": client_id, "tokens_not_before": not_before}


@router.post("/clients/{client_id}/disable", status_code=204, responses=INVALID,
             summary="Disable a client: its tokens stop working at once")
def disable_client(client_id: str, request: Request,
                   caller: ClientIdentity = Depends(caller_with("admin"))) -> None:
    """Disable a client; never the calling admin itself, nor the last enabled admin client."""
    runtime = runtime_of(request)
    clients.set_disabled(runtime.engine, client_id, True, acting_client=caller.client_id)
    runtime.registry_changed()


@router.post("/keys/rotate", response_model=RotatedKey, summary="Rotate the token-signing key")
def rotate_keys(request: Request) -> dict[str, str]:
    return {"kid": runtime_of(request).keyring.rotate()}
