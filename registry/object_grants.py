"""Object grants: which client system may see or change which agency's documents and dossiers.

A service grant says "system S may call service X". The façades lgsp itself serves (official documents
exchanged over the national axis, one-stop-shop dossiers pushed to DVCQG) are not services of a
provider, yet they hold another agency's objects, so they need the same deny-by-default rule: system S
may read, send or report on the documents of agency A only with a ``documents`` grant on A, and may
post events for a dossier owned by agency A only if it is the system that first pushed that dossier or
holds a ``dossiers`` grant on A. Being in the same agency grants nothing by itself (issue 19.4).

In a registry file::

    object_grants:
      - {client: 000.00.12.H10/QLVB, objects: documents, agency: 000.00.12.H10}
      - {client: 000.00.12.H10/MOTCUA, objects: dossiers, agency: 000.00.02.H10}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.base import Base
from registry.errors import RegistryError
from registry.inputs import MAX_LENGTH, InputError, check_declared, choices
from registry.models import Agency, System, bump_version

OBJECT_KINDS = ("documents", "dossiers")


class ObjectGrant(Base):
    __tablename__ = "object_grants"
    __table_args__ = (UniqueConstraint("client_system_id", "objects", "agency_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_system_id: Mapped[str] = mapped_column(ForeignKey("systems.id"), index=True)
    objects: Mapped[str] = mapped_column(String(20))  # documents | dossiers
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)


@dataclass(frozen=True)
class ObjectGrantSpec:
    client: str = field(metadata={MAX_LENGTH: 100})  # client system id
    objects: str = field(metadata=choices(*OBJECT_KINDS))  # documents | dossiers
    agency: str = field(metadata={MAX_LENGTH: 13})  # the agency whose objects

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.client, self.objects, self.agency)

    @property
    def label(self) -> str:
        return f"{self.client} -> {self.objects} of {self.agency}"


def add_object_grant(session: Session, spec: ObjectGrantSpec) -> ObjectGrant:
    try:
        check_declared(spec)
    except InputError as exc:
        raise RegistryError(exc.field, str(exc)) from exc
    if session.get(System, spec.client) is None:
        raise RegistryError("client", f"no system {spec.client}")
    if session.get(Agency, spec.agency) is None:
        raise RegistryError("agency", f"no agency {spec.agency}")
    existing = session.scalar(select(ObjectGrant).where(
        ObjectGrant.client_system_id == spec.client, ObjectGrant.objects == spec.objects,
        ObjectGrant.agency_code == spec.agency))
    if existing is not None:
        return existing
    grant = ObjectGrant(client_system_id=spec.client, objects=spec.objects, agency_code=spec.agency)
    session.add(grant)
    bump_version(session)
    return grant


def delete_object_grant(session: Session, spec: ObjectGrantSpec) -> None:
    session.execute(delete(ObjectGrant).where(
        ObjectGrant.client_system_id == spec.client, ObjectGrant.objects == spec.objects,
        ObjectGrant.agency_code == spec.agency))
    bump_version(session)


def forget_system(session: Session, system_id: str) -> None:
    """Drop the object grants of a system being deleted (and those naming an agency being deleted)."""
    session.execute(delete(ObjectGrant).where(ObjectGrant.client_system_id == system_id))


def forget_agency(session: Session, agency: str) -> None:
    session.execute(delete(ObjectGrant).where(ObjectGrant.agency_code == agency))


def list_object_grants(session: Session) -> list[ObjectGrantSpec]:
    rows = session.scalars(select(ObjectGrant).order_by(ObjectGrant.client_system_id, ObjectGrant.objects,
                                                        ObjectGrant.agency_code))
    return [ObjectGrantSpec(r.client_system_id, r.objects, r.agency_code) for r in rows]
