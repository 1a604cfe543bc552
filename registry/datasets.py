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
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, String, Text, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.base import Base, for_writing
from registry.dataset_spec import PERSONAL_MODES, DatasetSpec, SpecError, spec_from_dict
from registry.errors import RegistryError, RegistryNotFound
from registry.inputs import InputError, check_xml_text
from registry.models import Agency, Grant, Service, System, bump_version, utcnow
from registry.schedule import Cron, CronError

if TYPE_CHECKING:
    from sqlalchemy import Engine

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


@dataclass(frozen=True)
class DatasetRecord:
    """A registered dataset: the pipeline's :class:`DatasetSpec` plus what only the registry knows.

    The spec is the one definition of a dataset's fields (personal rules inline on its schema's fields, as
    the pipeline reads them); the record adds the system that publishes it (lgsp's open-data publisher,
    which needs a GET grant on the source). The registry-file form is computed from the spec's fields
    (:func:`record_mapping`), with the personal rules as their own ``personal:`` mapping.
    """

    spec: DatasetSpec
    publisher: str | None = None

    @property
    def slug(self) -> str:
        return self.spec.slug

    @property
    def personal(self) -> dict[str, str]:
        """The personal-field rules, by field name (drop | mask | hash)."""
        return dict(sorted(self.spec.personal_fields.items()))

    def to_spec(self) -> DatasetSpec:
        """The pipeline's view: the spec itself (the publisher is the registry's business)."""
        return self.spec


#: The spec's fields a registry entry carries (``extra`` is for YAML-spec files only).
SPEC_FIELDS = [f.name for f in fields(DatasetSpec) if f.name != "extra"]
#: Keys of a registry file's dataset entry: the spec's fields, its personal rules apart, the publisher.
RECORD_FIELDS = [*SPEC_FIELDS, "personal", "publisher"]
#: Two texts a spec requires but a registry entry may leave out (empty by default).
_OPTIONAL_TEXTS = {"title_en": "", "description_vi": ""}
REQUIRED_FIELDS = {f.name for f in fields(DatasetSpec)
                   if f.default is MISSING and f.default_factory is MISSING} - set(_OPTIONAL_TEXTS)
DEFAULTS: dict[str, Any] = {
    **{f.name: f.default for f in fields(DatasetSpec) if f.name in SPEC_FIELDS and f.default is not MISSING},
    **_OPTIONAL_TEXTS, "tags": [], "personal": {}, "publisher": None,
}


def _strip_marks(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of the schema without the fields' ``personal`` marks (they are stored apart)."""
    schema = copy.deepcopy(schema)
    for f in schema.get("fields") or []:
        if isinstance(f, dict):
            f.pop(SCHEMA_PERSONAL_KEY, None)
    return schema


def _spec_of(values: dict[str, Any], personal: dict[str, str], where: str) -> DatasetSpec:
    """Build the spec: inline marks and the ``personal`` mapping merged onto the schema's fields, then the
    spec's own checks and the registry's (rules name declared fields, the schedule is a cron expression)."""
    slug_where = f"datasets.{values.get('slug')}"
    schema = values.get("table_schema")
    if not isinstance(schema, dict):
        raise RegistryError(f"{slug_where}.table_schema", "must be a Table Schema mapping")
    schema = copy.deepcopy(schema)
    declared = [f for f in schema.get("fields") or [] if isinstance(f, dict)]
    rules = {str(k): str(v) for k, v in personal.items()}
    for f in declared:
        mode = f.pop(SCHEMA_PERSONAL_KEY, None)
        if mode in (None, False):
            continue
        name = str(f.get("name"))
        if rules.get(name, mode) != mode:
            raise RegistryError(f"{slug_where}.personal.{name}", f"field {name!r} is marked {mode!r} in the schema "
                                                                 f"but {rules[name]!r} in personal")
        rules[name] = str(mode)
    names = {f.get("name") for f in declared}
    for name, mode in rules.items():
        if name not in names:
            raise RegistryError(f"{slug_where}.personal.{name}", f"personal rule for {name!r}, a field the schema "
                                                                  "does not declare")
        if mode not in PERSONAL_MODES:
            raise RegistryError(f"{slug_where}.personal.{name}", f"must be one of {', '.join(PERSONAL_MODES)}")
    for f in declared:
        if f.get("name") in rules:
            f[SCHEMA_PERSONAL_KEY] = rules[str(f["name"])]
    try:
        Cron.parse(str(values.get("schedule", DEFAULTS["schedule"])))
    except CronError as exc:
        raise RegistryError(f"{slug_where}.schedule", str(exc)) from exc
    values = {**_OPTIONAL_TEXTS, **values, "table_schema": schema,
              "tags": [str(t) for t in values.get("tags") or []],
              "source_path": str(values.get("source_path", "")).lstrip("/")}
    try:
        return spec_from_dict(values)
    except SpecError as exc:
        raise RegistryError(slug_where if "slug" in values else where, str(exc)) from exc


def validate(record: DatasetRecord) -> DatasetRecord:
    """The record in its normal form (inline ``personal: false`` marks gone, the leading ``/`` of the path),
    or :class:`RegistryError` naming the field to fix; two records describing the same dataset compare
    equal after this (the diff relies on it)."""
    mapping = record_mapping(record)
    personal = mapping.pop("personal")
    publisher = mapping.pop("publisher")
    return DatasetRecord(_spec_of(mapping, personal, f"datasets.{record.slug}"), publisher)


def record_mapping(record: DatasetRecord) -> dict[str, Any]:
    """Every key of the registry-file form (nothing left out): personal rules apart, tags as a list."""
    values: dict[str, Any] = {name: copy.deepcopy(getattr(record.spec, name)) for name in SPEC_FIELDS}
    values.update(table_schema=_strip_marks(record.spec.table_schema), tags=list(record.spec.tags),
                  personal=record.personal, publisher=record.publisher)
    return values


def record_of(row: Dataset) -> DatasetRecord:
    values = {name: copy.deepcopy(getattr(row, _COLUMNS.get(name, name))) for name in SPEC_FIELDS}
    personal = dict(sorted((row.personal_fields or {}).items()))
    schema = values["table_schema"]
    for f in schema.get("fields") or []:
        if isinstance(f, dict) and f.get("name") in personal:
            f[SCHEMA_PERSONAL_KEY] = personal[f["name"]]
    values["tags"] = tuple(values["tags"] or ())
    return DatasetRecord(DatasetSpec(**values), row.publisher_system_id)


#: Spec field -> the ``datasets`` column that holds it, where the names differ.
_COLUMNS = {"owner_agency_id": "owner_agency_code", "source_service": "source_service_id"}


def upsert_dataset(session: Session, record: DatasetRecord) -> Dataset:
    """Create or update a dataset; its owner agency and source service must be registered."""
    record = validate(record)
    spec = record.spec
    if session.get(Agency, spec.owner_agency_id) is None:
        raise RegistryError(f"datasets.{spec.slug}.owner_agency_id",
                            f"agency {spec.owner_agency_id} is not registered")
    if session.get(Service, spec.source_service) is None:
        raise RegistryError(f"datasets.{spec.slug}.source_service",
                            f"service {spec.source_service} is not registered")
    if record.publisher is not None:
        _check_publisher_grant(session, record)
    row = session.get(Dataset, spec.slug)
    if row is None:
        row = Dataset(slug=spec.slug)
        session.add(row)
    mapping = record_mapping(record)
    for name in SPEC_FIELDS:
        setattr(row, _COLUMNS.get(name, name), mapping[name])
    row.personal_fields = mapping["personal"]
    row.publisher_system_id = record.publisher
    bump_version(session)
    return row


def _check_publisher_grant(session: Session, record: DatasetRecord) -> None:
    """A dataset is registered only over a source its publisher may read: a GET grant covering the path.

    Otherwise the registry would let a publisher system republish, as open data, a service it was never
    granted (issue 17.1); the gateway would refuse the fetch later, but the dataset should not exist.
    """
    from registry.snapshot import compile_path_pattern

    spec = record.spec
    where = f"datasets.{spec.slug}.publisher"
    if session.get(System, record.publisher) is None:
        raise RegistryError(where, f"system {record.publisher} is not registered")
    grants = session.scalars(select(Grant).where(Grant.client_system_id == record.publisher,
                                                 Grant.service_id == spec.source_service))
    for grant in grants:
        methods = grant.methods.split(",")
        if ("*" in methods or "GET" in methods) and compile_path_pattern(grant.path_pattern).fullmatch(
                spec.source_path.lstrip("/")):
            return
    raise RegistryError(where, f"{record.publisher} has no GET grant on {spec.source_service} for "
                               f"/{spec.source_path.lstrip('/')}: grant it before registering the dataset")


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
        return {r.slug: r.spec for r in list_records(session)}


#: the ``datasets`` columns a registry-file key of the same name fills, and their lengths
_TEXT_LENGTHS = {column.name: column.type.length for column in Dataset.__table__.columns
                 if isinstance(column.type, String) and column.type.length}


def _check_texts(values: dict[str, Any], where: str) -> None:
    """Every text of the entry (and each tag) must be writable as XML: CKAN serves them in its RDF/XML
    catalogue, which one U+0001 in one title made malformed for every dataset; NUL failed on PostgreSQL."""
    for key, value in values.items():
        texts = value if key == "tags" and isinstance(value, list) else [value]
        for number, text in enumerate(texts):
            if isinstance(text, str):
                try:
                    check_xml_text(text, key)
                except InputError as exc:
                    field = f"{where}.{key}" + (f"[{number}]" if key == "tags" else "")
                    raise RegistryError(field, str(exc)) from exc


def record_from_mapping(item: dict[str, Any], where: str) -> DatasetRecord:
    """A validated record from a registry-file mapping; unknown or missing keys name ``where``."""
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
    _check_texts(values, where)
    for key, limit in _TEXT_LENGTHS.items():  # PostgreSQL refuses longer text (a traceback from lgsp apply)
        value = values.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise RegistryError(f"{where}.{key}", f"at most {limit} characters ({len(value)} given)")
    personal = values.pop("personal", None) or {}
    if not isinstance(personal, dict):
        raise RegistryError(f"{where}.personal", "must be a mapping of field name to drop, mask or hash")
    publisher = values.pop("publisher", None)
    return DatasetRecord(_spec_of(values, personal, where), publisher)


def record_to_mapping(record: DatasetRecord) -> dict[str, Any]:
    """The registry-file form: defaults left out, so exported files stay short."""
    return {k: v for k, v in record_mapping(record).items() if k in REQUIRED_FIELDS or v != DEFAULTS[k]}


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
    """Take the dataset's lease; returns the lease token, or None when another worker holds it."""
    engine = for_writing(engine)
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
    its lease to a slower run's expiry cannot overwrite the newer claim)."""
    engine = for_writing(engine)
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
