"""``/admin/object-grants``: the operator's API for object grants (who may touch which agency's documents
and dossiers, :mod:`registry.object_grants`), beside ``/admin/grants`` for services. Admin scope only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from lgsp.api.bodies import ObjectGrantIn
from lgsp.api.deps import caller_with, runtime_of
from lgsp.api.routing import StrictJsonRoute
from lgsp.store.db import writer
from registry.object_grants import ObjectGrantSpec, add_object_grant, delete_object_grant, list_object_grants

router = APIRouter(route_class=StrictJsonRoute, prefix="/admin", tags=["admin"],
                   dependencies=[Depends(caller_with("admin"))])


class ObjectGrantOut(BaseModel):
    client: str
    objects: str
    agency: str


def _out(spec: ObjectGrantSpec) -> dict[str, Any]:
    return {"client": spec.client, "objects": spec.objects, "agency": spec.agency}


@router.get("/object-grants", response_model=list[ObjectGrantOut],
            summary="Which systems may touch which agency's documents and dossiers")
def get_object_grants(request: Request) -> list[dict[str, Any]]:
    with Session(runtime_of(request).engine) as session:
        return [_out(spec) for spec in list_object_grants(session)]


@router.post("/object-grants", status_code=201, response_model=ObjectGrantOut,
             summary="Grant a system an agency's documents or dossiers")
def post_object_grant(body: ObjectGrantIn, request: Request) -> dict[str, Any]:
    spec = ObjectGrantSpec(**body.model_dump())
    with Session(writer(runtime_of(request).engine)) as session, session.begin():
        add_object_grant(session, spec)
    runtime_of(request).registry_changed()
    return _out(spec)


@router.delete("/object-grants", status_code=204, summary="Withdraw an object grant")
def delete_object_grant_endpoint(body: ObjectGrantIn, request: Request) -> None:
    with Session(writer(runtime_of(request).engine)) as session, session.begin():
        delete_object_grant(session, ObjectGrantSpec(**body.model_dump()))
    runtime_of(request).registry_changed()
