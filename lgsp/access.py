"""Object-level access (OWASP API1): may this caller see or change this document, dossier or event?

Scopes say what kind of call a client may make; these rules say *which objects* it may touch. All of
them answer the same way when the answer is no: a 404 ``not-found`` naming nothing of the object, so
another agency cannot learn which ids exist (the table in docs/object-access.md lists every endpoint).

* documents of agency A: a ``documents`` object grant of the caller's system on A (registry
  ``object_grants``). Being a system of A grants nothing by itself.
* a dossier: owned by the agency and system that first pushed it (``dossier_owners``, claimed by the
  first accepted event); later events come from that system or from a system with a ``dossiers``
  object grant on the owning agency.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from lgsp.auth.tokens import ClientIdentity
from lgsp.problems import Problem
from lgsp.store.base import Base
from lgsp.store.db import dialect_insert, writer
from registry.object_grants import ObjectGrant


class DossierOwner(Base):
    """Who pushed a dossier first: only that system, or one granted for its agency's dossiers, may add to it."""

    __tablename__ = "dossier_owners"

    ma_ho_so: Mapped[str] = mapped_column(String(200), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(40))
    system_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def caller_system(caller: ClientIdentity) -> tuple[str, str]:
    """(system id, agency) of a caller; a client bound to no system owns no objects."""
    if not caller.system_id or "/" not in caller.system_id:
        raise Problem("forbidden", "this client is not bound to an agency system; these objects need one")
    return caller.system_id, caller.system_id.split("/", 1)[0]


def granted_agencies(engine: Engine, system_id: str, objects: str) -> set[str]:
    """The agencies whose ``objects`` (documents | dossiers) this system holds a grant for."""
    with Session(engine) as session:
        return set(session.scalars(select(ObjectGrant.agency_code).where(
            ObjectGrant.client_system_id == system_id, ObjectGrant.objects == objects)))


def receiving_agencies(engine: Engine) -> tuple[str, ...]:
    """The agencies lgsp receives documents for: those some system is granted to read (registry).

    This replaces the separate ``LGSP_VDXP_AGENCIES`` setting: a document nobody may read must not be
    fetched and acknowledged on the axis, and a newly granted agency is received without a restart.
    """
    with Session(engine) as session:
        return tuple(sorted(set(session.scalars(select(ObjectGrant.agency_code).where(
            ObjectGrant.objects == "documents")))))


def may(engine: Engine, system_id: str, objects: str, agency: str) -> bool:
    """Whether ``system_id`` holds a grant on ``objects`` of ``agency`` (a Core read: no ORM session per check)."""
    with engine.connect() as conn:
        return conn.scalar(select(ObjectGrant.id).where(
            ObjectGrant.client_system_id == system_id, ObjectGrant.objects == objects,
            ObjectGrant.agency_code == agency).limit(1)) is not None


def dossier_owner(engine: Engine, ma_ho_so: str) -> DossierOwner | None:
    with Session(engine) as session:
        row = session.get(DossierOwner, ma_ho_so)
        if row is not None:
            session.expunge(row)
        return row


def may_post_dossier(engine: Engine, ma_ho_so: str, caller: ClientIdentity) -> bool:
    """True when the caller may add an event to this dossier, claiming it first if nobody owns it."""
    system_id, agency = caller_system(caller)
    owner = dossier_owner(engine, ma_ho_so)
    if owner is None:
        owner = claim_dossier(engine, ma_ho_so, system_id, agency)
    return owner.system_id == system_id or may(engine, system_id, "dossiers", owner.agency_code)


def may_read_dossier(engine: Engine, ma_ho_so: str, caller: ClientIdentity) -> bool:
    if not caller.system_id or "/" not in caller.system_id:
        return False
    owner = dossier_owner(engine, ma_ho_so)
    if owner is None:
        return False
    return owner.system_id == caller.system_id or may(engine, caller.system_id, "dossiers", owner.agency_code)


def claim_dossier(engine: Engine, ma_ho_so: str, system_id: str, agency: str) -> DossierOwner:
    """Record the first pusher of a dossier (insert-if-absent, race-free on the primary key); the owner."""
    values = {"ma_ho_so": ma_ho_so, "agency_code": agency, "system_id": system_id, "created_at": datetime.now(UTC)}
    insert = dialect_insert(engine)
    with Session(writer(engine)) as session, session.begin():
        session.execute(insert(DossierOwner).values(**values).on_conflict_do_nothing(index_elements=["ma_ho_so"]))
    owner = dossier_owner(engine, ma_ho_so)
    assert owner is not None
    return owner
