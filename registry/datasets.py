"""Open datasets in the registry: what the city publishes, from which service, under which rules.

A dataset row is the registry's side of an open-data spec (DESIGN.md §8): it ties a published dataset
to its owner agency and to the *registered* source service it is read from (foreign keys, so a dataset
cannot point at a service the gateway does not know), and carries everything the curation job needs --
the Table Schema, the personal-field rules, the licence, the update frequency and the cron schedule.
It is managed like the rest of the registry (``lgsp apply`` with a ``datasets:`` section; every change
bumps ``registry_state.version``), and :func:`load_specs` turns the rows into the
:class:`registry.dataset_spec.DatasetSpec` objects the open-data pipeline runs on.

Personal-field rules are kept apart from the schema (``personal: {field: drop|mask|hash}``) so an
operator reviewing a diff sees them as their own line; a registry file may still write them inline in
the schema (``personal: drop`` on a field, the YAML-spec form), they are normalised on parse.

The spec type and the cron grammar are the registry's own (registry/dataset_spec.py, registry/schedule.py):
the registry owns the catalogue, and lgsp.opendata imports them from here, never the reverse.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, String, Text, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.base import Base
from registry.dataset_spec import DatasetSpec, SpecError, spec_from_dict
from registry.errors import RegistryError, RegistryNotFound
from registry.models import Agency, Grant, Service, System, bump_version, utcnow
from registry.schedule import Cron, CronError

if TYPE_CHECKING:
    from sqlalchemy import Engine

PERSONAL_MODES = ("drop", "mask", "hash")
SCHEMA_PERSONAL_KEY = "personal"


class Dataset(Base):
    """One open dataset the city publishes (the CKAN dataset's name is ``slug``)."""

    __tablename__ = "datasets"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    title_vi: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str] = mapped_column(String(500), default="")
    description_vi: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    owner_agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    organization: Mapped[str] = mapped_column(String(100))  # CKAN organisation slug
    organization_title: Mapped[str] = mapped_column(String(500))
    source_service_id: Mapped[str] = mapped_column(ForeignKey("services.id"), index=True)
    source_path: Mapped[str] = mapped_column(String(1000))
    source_format: Mapped[str] = mapped_column(String(10), default="json")  # json | csv
    records_key: Mapped[str | None] = mapped_column(String(100), default=None)
    table_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: field name -> drop | mask | hash (never published in clear)
    personal_fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    licence: Mapped[str] = mapped_column(String(100), default="cc-by")
    frequency: Mapped[str] = mapped_column(String(50), default="daily")
    schedule: Mapped[str] = mapped_column(String(100), default="0 2 * * *")  # cron, UTC
    topic: Mapped[str] = mapped_column(String(100), default="dia-phuong")
    spatial_code: Mapped[str] = mapped_column(String(50), default="")
    spatial_name: Mapped[str] = mapped_column(String(300), default="")
    contact_name: Mapped[str] = mapped_column(String(300), default="")
    contact_email: Mapped[str] = mapped_column(String(300), default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The client system the curation job reads the source as; it must hold a GET grant on the source.
    publisher_system_id: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


@dataclass
class DatasetRecord:
    """A dataset as the registry file and the operations see it (keys as in the YAML specs)."""

    slug: str
    title_vi: str
    owner_agency_id: str
    organization: str
    organization_title: str
    source_service: str
    source_path: str
    table_schema: dict[str, Any]
    title_en: str = ""
    description_vi: str = ""
    description_en: str = ""
    source_format: str = "json"
    records_key: str | None = None
    personal: dict[str, str] = field(default_factory=dict)
    licence: str = "cc-by"
    frequency: str = "daily"
    schedule: str = "0 2 * * *"
    topic: str = "dia-phuong"
    spatial_code: str = ""
    spatial_name: str = ""
    contact_name: str = ""
    contact_email: str = ""
    legal_basis: str = ""
    tags: list[str] = field(default_factory=list)
    #: The system that publishes it (lgsp's open-data publisher): needs a GET grant on the source.
    publisher: str | None = None

    def normalised(self) -> DatasetRecord:
        """Inline ``personal`` marks moved out of the schema into :attr:`personal`; tags as a list.
        Two records describing the same dataset compare equal after this (the diff relies on it)."""
        schema = copy.deepcopy(self.table_schema) if isinstance(self.table_schema, dict) else self.table_schema
        personal = {str(k): str(v) for k, v in (self.personal or {}).items()}
        if isinstance(schema, dict) and isinstance(schema.get("fields"), list):
            for f in schema["fields"]:
                if isinstance(f, dict) and SCHEMA_PERSONAL_KEY in f:
                    mode = f.pop(SCHEMA_PERSONAL_KEY)
                    if mode in (None, False):
                        continue
                    name = str(f.get("name"))
                    if personal.get(name, mode) != mode:
                        raise RegistryError(f"datasets.{self.slug}.personal.{name}",
                                            f"field {name!r} is marked {mode!r} in the schema but "
                                            f"{personal[name]!r} in personal")
                    personal[name] = str(mode)
        values = asdict(self)
        values.update(table_schema=schema, personal=dict(sorted(personal.items())),
                      tags=[str(t) for t in self.tags or []], source_path=str(self.source_path).lstrip("/"))
        return DatasetRecord(**values)

    def to_spec(self) -> DatasetSpec:
        """The pipeline's spec: the personal rules go back onto the schema fields."""
        record = self.normalised()
        schema = copy.deepcopy(record.table_schema)
        for f in schema.get("fields", []):
            if f.get("name") in record.personal:
                f[SCHEMA_PERSONAL_KEY] = record.personal[f["name"]]
        values = asdict(record)
        values.pop("personal")
        values.pop("publisher")
        values["table_schema"] = schema
        return spec_from_dict(values)


RECORD_FIELDS = [f.name for f in fields(DatasetRecord)]
REQUIRED_FIELDS = {"slug", "title_vi", "owner_agency_id", "organization", "organization_title", "source_service",
                   "source_path", "table_schema"}
DEFAULTS = {f.name: (f.default_factory() if callable(f.default_factory) else f.default)
            for f in fields(DatasetRecord) if f.name not in REQUIRED_FIELDS}


def validate(record: DatasetRecord) -> DatasetRecord:
    """The normalised record, or :class:`RegistryError` naming the field to fix. Reuses the pipeline's
    own spec checks (slug, agency id, schema, personal modes) so the registry never stores a dataset
    the pipeline would refuse, and checks what only the registry can: personal rules name declared
    fields, and the schedule is a valid cron expression."""
    record = record.normalised()
    where = f"datasets.{record.slug}"
    if not isinstance(record.table_schema, dict):
        raise RegistryError(f"{where}.table_schema", "must be a Table Schema mapping")
    names = {f.get("name") for f in record.table_schema.get("fields") or [] if isinstance(f, dict)}
    for name, mode in record.personal.items():
        if name not in names:
            raise RegistryError(f"{where}.personal.{name}", f"personal rule for {name!r}, a field the schema "
                                                             "does not declare")
        if mode not in PERSONAL_MODES:
            raise RegistryError(f"{where}.personal.{name}", f"must be one of {', '.join(PERSONAL_MODES)}")
    try:
        Cron.parse(record.schedule)
    except CronError as exc:
        raise RegistryError(f"{where}.schedule", str(exc)) from exc
    try:
        record.to_spec()
    except SpecError as exc:
        raise RegistryError(where, str(exc)) from exc
    return record


def record_of(row: Dataset) -> DatasetRecord:
    return DatasetRecord(
        slug=row.slug, title_vi=row.title_vi, title_en=row.title_en, description_vi=row.description_vi,
        description_en=row.description_en, owner_agency_id=row.owner_agency_code, organization=row.organization,
        organization_title=row.organization_title, source_service=row.source_service_id,
        source_path=row.source_path, source_format=row.source_format, records_key=row.records_key,
        table_schema=copy.deepcopy(row.table_schema), personal=dict(sorted((row.personal_fields or {}).items())),
        licence=row.licence, frequency=row.frequency, schedule=row.schedule, topic=row.topic,
        spatial_code=row.spatial_code, spatial_name=row.spatial_name, contact_name=row.contact_name,
        contact_email=row.contact_email, legal_basis=row.legal_basis, tags=list(row.tags or []),
        publisher=row.publisher_system_id,
    )


def upsert_dataset(session: Session, record: DatasetRecord) -> Dataset:
    """Create or update a dataset; its owner agency and source service must be registered."""
    record = validate(record)
    if session.get(Agency, record.owner_agency_id) is None:
        raise RegistryError(f"datasets.{record.slug}.owner_agency_id",
                            f"agency {record.owner_agency_id} is not registered")
    if session.get(Service, record.source_service) is None:
        raise RegistryError(f"datasets.{record.slug}.source_service",
                            f"service {record.source_service} is not registered")
    if record.publisher is not None:
        _check_publisher_grant(session, record)
    row = session.get(Dataset, record.slug)
    if row is None:
        row = Dataset(slug=record.slug)
        session.add(row)
    row.title_vi, row.title_en = record.title_vi, record.title_en
    row.description_vi, row.description_en = record.description_vi, record.description_en
    row.owner_agency_code, row.organization = record.owner_agency_id, record.organization
    row.organization_title = record.organization_title
    row.source_service_id, row.source_path = record.source_service, record.source_path
    row.source_format, row.records_key = record.source_format, record.records_key
    row.table_schema, row.personal_fields = record.table_schema, record.personal
    row.licence, row.frequency, row.schedule = record.licence, record.frequency, record.schedule
    row.topic = record.topic
    row.spatial_code, row.spatial_name = record.spatial_code, record.spatial_name
    row.contact_name, row.contact_email = record.contact_name, record.contact_email
    row.legal_basis, row.tags = record.legal_basis, record.tags
    row.publisher_system_id = record.publisher
    bump_version(session)
    return row


def _check_publisher_grant(session: Session, record: DatasetRecord) -> None:
    """A dataset is registered only over a source its publisher may read: a GET grant covering the path.

    Otherwise the registry would let a publisher system republish, as open data, a service it was never
    granted (issue 17.1); the gateway would refuse the fetch later, but the dataset should not exist.
    """
    from registry.snapshot import compile_path_pattern

    where = f"datasets.{record.slug}.publisher"
    if session.get(System, record.publisher) is None:
        raise RegistryError(where, f"system {record.publisher} is not registered")
    grants = session.scalars(select(Grant).where(Grant.client_system_id == record.publisher,
                                                 Grant.service_id == record.source_service))
    for grant in grants:
        methods = grant.methods.split(",")
        if ("*" in methods or "GET" in methods) and compile_path_pattern(grant.path_pattern).fullmatch(
                record.source_path.lstrip("/")):
            return
    raise RegistryError(where, f"{record.publisher} has no GET grant on {record.source_service} for "
                               f"/{record.source_path.lstrip('/')}: grant it before registering the dataset")


def delete_dataset(session: Session, slug: str) -> None:
    """Forget a dataset (the portal keeps what was published; nothing publishes it any more)."""
    row = session.get(Dataset, slug)
    if row is None:
        raise RegistryNotFound(f"dataset {slug}")
    session.delete(row)
    bump_version(session)


def list_records(session: Session) -> list[DatasetRecord]:
    return [record_of(row) for row in session.scalars(select(Dataset).order_by(Dataset.slug))]


def load_specs(engine: Engine) -> dict[str, DatasetSpec]:
    """Every registered dataset as a pipeline spec, by slug (what ``lgsp opendata`` and the worker run)."""
    with Session(engine) as session:
        return {r.slug: r.to_spec() for r in list_records(session)}


def record_from_mapping(item: dict[str, Any], where: str) -> DatasetRecord:
    """A record from a registry-file mapping; unknown or missing keys name ``where``."""
    if not isinstance(item, dict):
        raise RegistryError(where, "must be a mapping")
    unknown = set(item) - set(RECORD_FIELDS)
    if unknown:
        raise RegistryError(where, f"unknown keys: {', '.join(sorted(unknown))}")
    missing = REQUIRED_FIELDS - set(item)
    if missing:
        raise RegistryError(where, f"missing keys: {', '.join(sorted(missing))}")
    values = dict(item)
    for key in ("slug", "title_vi", "owner_agency_id", "organization", "organization_title", "source_service",
                "source_path", "schedule", "spatial_code", "publisher"):
        if key in values and values[key] is not None:
            values[key] = str(values[key])
    values["personal"] = dict(values.get("personal") or {})
    values["tags"] = list(values.get("tags") or [])
    return DatasetRecord(**values)


def record_to_mapping(record: DatasetRecord) -> dict[str, Any]:
    """The registry-file form: defaults left out, so exported files stay short."""
    values = asdict(record)
    return {k: v for k, v in values.items() if k in REQUIRED_FIELDS or v != DEFAULTS[k]}


class DatasetSchedule(Base):
    """Run-time state of a dataset's schedule, apart from the declarative row (``lgsp apply`` never
    touches it): the lease a worker holds while it publishes the dataset, and the last attempt.

    The lease is how several ``lgsp worker`` processes share the schedule without running a dataset
    twice: claiming is one conditional UPDATE (free or expired lease -> mine), atomic on PostgreSQL
    and on SQLite alike, and a worker that dies simply lets its lease expire. ``last_attempt_at``
    keeps a failing dataset from being retried on every tick: it waits for its next cron slot.
    """

    __tablename__ = "dataset_schedule"

    slug: Mapped[str] = mapped_column(ForeignKey("datasets.slug", ondelete="CASCADE"), primary_key=True)
    lease_token: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    last_outcome: Mapped[str | None] = mapped_column(String(30), default=None)
    last_audit_index: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=None)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def claim(engine: Engine, slug: str, lease: timedelta, now: datetime | None = None) -> str | None:
    """Take the dataset's lease; returns the lease token, or None when another worker holds it.

    ``engine`` must be one whose transactions take the write lock at BEGIN (lgsp passes
    ``lgsp.store.db.writer(engine)``): the registry does not know the store, the caller does."""
    now = now or datetime.now(UTC)
    token = secrets.token_hex(16)
    with Session(engine) as session:
        if session.get(Dataset, slug) is None:
            return None
        if session.get(DatasetSchedule, slug) is None:
            session.add(DatasetSchedule(slug=slug))
            try:
                session.commit()
            except IntegrityError:  # another worker created it first: fine, compete on the update
                session.rollback()
    with Session(engine) as session, session.begin():
        taken = session.execute(
            update(DatasetSchedule)
            .where(DatasetSchedule.slug == slug,
                   or_(DatasetSchedule.lease_until.is_(None), DatasetSchedule.lease_until < now))
            .values(lease_token=token, lease_until=now + lease)
        )
        return token if getattr(taken, "rowcount", 0) == 1 else None


def release(engine: Engine, slug: str, token: str, *, run_id: str, outcome: str, audit_index: int | None,
            now: datetime | None = None) -> bool:
    """Record the attempt and free the lease -- only if ``token`` still holds it (a worker that lost
    its lease to a slower run's expiry cannot overwrite the newer claim). ``engine``: as for :func:`claim`."""
    with Session(engine) as session, session.begin():
        done = session.execute(
            update(DatasetSchedule).where(DatasetSchedule.slug == slug, DatasetSchedule.lease_token == token)
            .values(lease_token=None, lease_until=None, last_attempt_at=now or datetime.now(UTC),
                    last_run_id=run_id, last_outcome=outcome, last_audit_index=audit_index)
        )
        return getattr(done, "rowcount", 0) == 1


def schedule_state(engine: Engine) -> dict[str, DatasetSchedule]:
    """The schedule rows by slug (detached, times made timezone-aware)."""
    with Session(engine, expire_on_commit=False) as session:
        rows = list(session.scalars(select(DatasetSchedule)))
        for row in rows:
            row.lease_until, row.last_attempt_at = _aware(row.lease_until), _aware(row.last_attempt_at)
            session.expunge(row)
    return {row.slug: row for row in rows}
