"""Declarative registry files: `lgsp apply registry.yaml` and `lgsp registry export`.

The file describes the wanted registry. Applying it computes a diff against the store first (shown to
the operator, like `kubectl apply` / decK), then makes exactly those changes in one transaction, so a
second apply of the same file changes nothing. Things absent from the file are only removed with
`prune=True`. Export writes the same format, so export -> apply is a no-op (round trip).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from registry import datasets as ds
from registry import limits as lim
from registry import object_grants as og
from registry import operations as ops
from registry.base import for_writing
from registry.file_entries import SECTIONS, RegistryFileError, refuse_twice, section, take_entry
from registry.inputs import InputError, check_declared
from registry.models import Agency, Grant, Service, System
from registry.yaml_file import load_registry_yaml

_SERVICE_DEFAULTS = ops.ServiceSpec(system="", code="", name="", base_url="")


@dataclass
class Change:
    action: str  # "+", "~", "-"
    kind: str  # agency | system | service | grant
    key: str
    details: list[str] = field(default_factory=list)

    def render(self) -> str:
        head = f"{self.action} {self.kind} {self.key}"
        return "\n".join([head, *(f"    {d}" for d in self.details)])


@dataclass
class Desired:
    agencies: list[ops.AgencySpec]
    systems: list[ops.SystemSpec]
    services: list[ops.ServiceSpec]
    grants: list[ops.GrantSpec]
    #: Open datasets (registry/datasets.py); after services, since each names its source service.
    datasets: list[ds.DatasetRecord] = field(default_factory=list)
    #: Traffic limits (registry/limits.py): rate, quota, concurrency per service and caller scope.
    limits: list[lim.LimitSpec] = field(default_factory=list)
    #: Who may touch which agency's documents and dossiers (registry/object_grants.py).
    object_grants: list[og.ObjectGrantSpec] = field(default_factory=list)


def _fingerprints(where: str, value: Any) -> list[str] | None:
    """Normalised here too, so the diff against the store compares like with like."""
    try:
        return ops.validate_cert_fingerprints(value)
    except ops.RegistryError as exc:
        raise RegistryFileError(f"{where}.client_cert_sha256", str(exc)) from exc


def parse_registry_file(text: str) -> Desired:
    data = load_registry_yaml(text) or {}
    if not isinstance(data, dict):
        raise RegistryFileError("file", "top level must be a mapping")
    unknown = set(map(str, data)) - set(SECTIONS)  # str: a key may be a number or null
    if unknown:
        raise RegistryFileError("file", f"unknown sections: {', '.join(sorted(unknown))}")
    data = {name: section(data, name) for name in SECTIONS}
    agencies = [
        ops.AgencySpec(**{"parent": None, **take_entry(a, f"agencies[{i}]", {"code", "name", "parent"},
                                                     {"code", "name"}, ops.AgencySpec)})
        for i, a in enumerate(data["agencies"])
    ]
    systems = []
    for i, s in enumerate(data["systems"]):
        s = take_entry(s, f"systems[{i}]", {"id", "name", "client", "provider", "jwks",
                                               "client_cert_sha256"}, {"id", "name"}, ops.SystemSpec, ("id",),
                       normalised=("client_cert_sha256",))  # one fingerprint or a list: _fingerprints
        agency, _, code = str(s["id"]).partition("/")
        systems.append(ops.SystemSpec(agency=agency, code=code, name=s["name"],
                                      client=bool(s.get("client", True)), provider=bool(s.get("provider", False)),
                                      jwks=s.get("jwks"),
                                      client_cert_sha256=_fingerprints(f"systems[{i}]", s.get("client_cert_sha256"))))
    service_keys = {f.name for f in fields(ops.ServiceSpec)} - {"system", "code"} | {"id"}
    services = []
    for i, s in enumerate(data["services"]):
        s = dict(take_entry(s, f"services[{i}]", service_keys, {"id", "name", "base_url"}, ops.ServiceSpec, ("id",)))
        system, _, code = str(s.pop("id")).rpartition("/")
        services.append(ops.ServiceSpec(system=system, code=code, **s))
    grants = []
    for i, g in enumerate(data["grants"]):
        g = take_entry(g, f"grants[{i}]", {"client", "service", "methods", "path"}, {"client", "service"},
                       ops.GrantSpec)
        grants.append(ops.GrantSpec(client=g["client"], service=g["service"],
                                    methods=list(g.get("methods") or ["*"]), path=str(g.get("path", "*"))))
    object_grants = []
    for i, g in enumerate(data["object_grants"]):
        g = take_entry(g, f"object_grants[{i}]", {"client", "objects", "agency"}, {"client", "objects", "agency"},
                  og.ObjectGrantSpec)
        grant_spec = og.ObjectGrantSpec(str(g["client"]), str(g["objects"]), str(g["agency"]))
        try:
            check_declared(grant_spec)
        except InputError as exc:
            raise RegistryFileError(f"object_grants[{i}]", str(exc)) from exc
        object_grants.append(grant_spec)
    for kind, keys in (("agencies", [a.code for a in agencies]), ("systems", [s.id for s in systems]),
                       ("services", [s.id for s in services]), ("grants", [g.key for g in grants]),
                       ("object_grants", [g.key for g in object_grants])):
        refuse_twice(kind, keys)  # the later entry silently replaced the earlier one
    return Desired(agencies, systems, services, grants, _parse_datasets(data["datasets"]),
                   limits=_parse_limits(data["limits"]), object_grants=object_grants)


def _parse_limits(items: Any) -> list[lim.LimitSpec]:
    if not isinstance(items, list):
        raise RegistryFileError("limits", "must be a list")
    specs = []
    for i, item in enumerate(items):
        try:
            specs.append(lim.spec_from_mapping(item, f"limits[{i}]"))
        except ops.RegistryError as exc:
            raise RegistryFileError(exc.field, str(exc)) from exc
    keys = [s.key for s in specs]
    if len(set(keys)) != len(keys):
        twice = sorted({lim.LimitSpec(*k).label for k in keys if keys.count(k) > 1})
        raise RegistryFileError("limits", f"listed twice: {', '.join(twice)}")
    return specs


def _parse_datasets(items: Any) -> list[ds.DatasetRecord]:
    if not isinstance(items, list):
        raise RegistryFileError("datasets", "must be a list")
    records: list[ds.DatasetRecord] = []
    for i, item in enumerate(items):
        where = f"datasets[{i}]"
        try:
            records.append(ds.record_from_mapping(item, where))
        except ops.RegistryError as exc:
            raise RegistryFileError(where if exc.field == where else f"{where} ({exc.field})", str(exc)) from exc
        except TypeError as exc:
            raise RegistryFileError(where, str(exc)) from exc
    slugs = [r.slug for r in records]
    if len(set(slugs)) != len(slugs):
        raise RegistryFileError("datasets", f"slug listed twice: {sorted({s for s in slugs if slugs.count(s) > 1})}")
    return records


def _service_dict(spec: ops.ServiceSpec) -> dict[str, Any]:
    values = asdict(spec)
    values["base_url"] = values["base_url"].rstrip("/")
    values["idempotent_methods"] = sorted({m.upper() for m in values["idempotent_methods"]})
    values["timeout_seconds"] = float(values["timeout_seconds"])
    values["retry_backoff_seconds"] = float(values["retry_backoff_seconds"])
    return values


def current_state(session: Session) -> Desired:
    agencies = [ops.AgencySpec(a.code, a.name, a.parent_code)
                for a in session.scalars(select(Agency).order_by(Agency.code))]
    systems = [ops.SystemSpec(s.agency_code, s.code, s.name, s.is_client, s.is_provider, s.jwks,
                              s.client_cert_sha256 or None)
               for s in session.scalars(select(System).order_by(System.id))]
    services = [ops.ServiceSpec(
        system=s.system_id, code=s.code, name=s.name, base_url=s.base_url, kind=s.kind, wsdl_path=s.wsdl_path,
        timeout_seconds=s.timeout_seconds, retry_attempts=s.retry_attempts,
        retry_backoff_seconds=s.retry_backoff_seconds, idempotent_methods=list(s.idempotent_methods),
        max_body_bytes=s.max_body_bytes, signature_policy=s.signature_policy, keep_bodies=s.keep_bodies)
        for s in session.scalars(select(Service).order_by(Service.id))]
    grants = [ops.GrantSpec(g.client_system_id, g.service_id, g.methods.split(","), g.path_pattern)
              for g in session.scalars(select(Grant).order_by(Grant.id))]
    return Desired(agencies, systems, services, grants, ds.list_records(session), limits=lim.list_specs(session),
                   object_grants=og.list_object_grants(session))


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [f"{k}: {old[k]!r} -> {new[k]!r}" for k in new if old.get(k) != new[k]]


def _dataset_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Like :func:`_field_changes`, but a schema change names the fields that changed instead of
    printing two whole Table Schemas."""
    changes = _field_changes({k: v for k, v in old.items() if k != "table_schema"},
                             {k: v for k, v in new.items() if k != "table_schema"})
    before, after = old.get("table_schema") or {}, new.get("table_schema") or {}
    if before != after:
        by_name = [{f.get("name"): f for f in s.get("fields", []) if isinstance(f, dict)} for s in (before, after)]
        names = sorted({n for n in by_name[0].keys() | by_name[1].keys()
                        if by_name[0].get(n) != by_name[1].get(n)}, key=str)
        other = sorted(k for k in before.keys() | after.keys() if k != "fields" and before.get(k) != after.get(k))
        changes.append("table_schema: " + ", ".join([*(f"field {n}" for n in names), *other]))
    return changes


def plan(session: Session, desired: Desired, prune: bool = False) -> list[Change]:
    """The changes applying ``desired`` would make, in dependency order."""
    have = current_state(session)
    changes: list[Change] = []
    have_agencies = {a.code: asdict(a) for a in have.agencies}
    for a in desired.agencies:
        new = asdict(a)
        if a.code not in have_agencies:
            changes.append(Change("+", "agency", a.code, [f"name: {a.name!r}"]))
        elif diff := _field_changes(have_agencies[a.code], new):
            changes.append(Change("~", "agency", a.code, diff))
    have_systems = {s.id: asdict(s) for s in have.systems}
    for s in desired.systems:
        if s.id not in have_systems:
            changes.append(Change("+", "system", s.id, [f"name: {s.name!r}"]))
        elif diff := _field_changes(have_systems[s.id], asdict(s)):
            changes.append(Change("~", "system", s.id, diff))
    have_services = {s.id: _service_dict(s) for s in have.services}
    for svc in desired.services:
        new = _service_dict(svc)
        if svc.id not in have_services:
            changes.append(Change("+", "service", svc.id, [f"base_url: {svc.base_url!r}"]))
        elif diff := _field_changes(have_services[svc.id], new):
            changes.append(Change("~", "service", svc.id, diff))
    have_grants = {g.key for g in have.grants}
    want_grants = {g.key for g in desired.grants}
    for g in desired.grants:
        if g.key not in have_grants and not any(c.kind == "grant" and c.key == _grant_label(g.key)
                                                for c in changes):
            changes.append(Change("+", "grant", _grant_label(g.key)))
    have_objects = {g.key for g in have.object_grants}
    changes += [Change("+", "object-grant", g.label) for g in dict.fromkeys(desired.object_grants)
                if g.key not in have_objects]
    have_datasets = {d.slug: ds.record_mapping(d) for d in have.datasets}
    for d in desired.datasets:
        new = ds.record_mapping(ds.validate(d))
        if d.slug not in have_datasets:
            changes.append(Change("+", "dataset", d.slug, [f"source: {d.spec.source_service}/{d.spec.source_path}",
                                                            f"schedule: {d.spec.schedule!r}"]))
        elif diff := _dataset_changes(have_datasets[d.slug], new):
            changes.append(Change("~", "dataset", d.slug, diff))
    have_limits = {spec.key: asdict(spec) for spec in have.limits}
    for spec in desired.limits:
        if spec.key not in have_limits:
            changes.append(Change("+", "limit", spec.label, _limit_details(asdict(spec))))
        elif diff := _field_changes(have_limits[spec.key], asdict(spec)):
            changes.append(Change("~", "limit", spec.label, diff))
    if prune:
        want_limits = {spec.key for spec in desired.limits}
        changes += [Change("-", "limit", lim.LimitSpec(*key).label) for key in sorted(set(have_limits) - want_limits)]
        want = {d.slug for d in desired.datasets}
        changes += [Change("-", "dataset", k) for k in sorted(set(have_datasets) - want)]
        changes += [Change("-", "grant", _grant_label(k)) for k in sorted(have_grants - want_grants)]
        want_objects = {g.key for g in desired.object_grants}
        changes += [Change("-", "object-grant", g.label) for g in have.object_grants if g.key not in want_objects]
        want = {s.id for s in desired.services}
        changes += [Change("-", "service", k) for k in sorted(set(have_services) - want)]
        want = {s.id for s in desired.systems}
        changes += [Change("-", "system", k) for k in sorted(set(have_systems) - want)]
        want = {a.code for a in desired.agencies}
        changes += [Change("-", "agency", k) for k in sorted(set(have_agencies) - want)]
    return changes


def _limit_details(values: dict[str, Any]) -> list[str]:
    return [f"{k}: {v!r}" for k, v in values.items() if k not in {"service", "client"} and v is not None]


def _grant_label(key: tuple[str, str, str, str]) -> str:
    client, service, methods, path = key
    return f"{client} -> {service} [{methods}] {path}"


def apply(engine: Engine, desired: Desired, *, dry_run: bool = False, prune: bool = False,
          schemas_dir: Path | None = None) -> list[Change]:
    """Plan and (unless ``dry_run``) make the changes in one transaction; returns the plan. The transaction
    is marked as writing (:func:`registry.base.for_writing`: the plan reads before it writes);
    ``schemas_dir`` confines the services' WSDL files (:func:`registry.operations.upsert_service`)."""
    with Session(for_writing(engine)) as session, session.begin():
        changes = plan(session, desired, prune)
        if not changes:
            session.rollback()
            return changes
        touched = {(c.kind, c.key) for c in changes if c.action != "-"}
        for a in _parents_first(desired.agencies):
            if ("agency", a.code) in touched:
                ops.upsert_agency(session, a)
                session.flush()
        for s in desired.systems:
            if ("system", s.id) in touched:
                ops.upsert_system(session, s)
        session.flush()
        for svc in desired.services:
            if ("service", svc.id) in touched:
                ops.upsert_service(session, svc, schemas_dir)
        session.flush()
        for g in desired.grants:
            if ("grant", _grant_label(g.key)) in touched:
                ops.add_grant(session, g)
        session.flush()
        for og_spec in desired.object_grants:
            if ("object-grant", og_spec.label) in touched:
                og.add_object_grant(session, og_spec)
        session.flush()
        for d in desired.datasets:
            if ("dataset", d.slug) in touched:
                ds.upsert_dataset(session, d)
        session.flush()
        for spec in desired.limits:
            if ("limit", spec.label) in touched:
                lim.upsert_limit(session, spec)
        session.flush()
        removals = [c for c in changes if c.action == "-"]
        for change in removals:
            _remove(session, change, desired)
        if dry_run:  # made (so checked) and undone: a dry run refuses what apply would refuse
            session.flush()
            session.rollback()
    return changes


def _remove(session: Session, change: Change, desired: Desired) -> None:
    if change.kind == "dataset" and session.get(ds.Dataset, change.key) is not None:
        ds.delete_dataset(session, change.key)
    elif change.kind == "limit":
        for spec in lim.list_specs(session):
            if spec.label == change.key:
                lim.delete_limit(session, spec.service, spec.client)
    elif change.kind == "object-grant":
        for grant_spec in og.list_object_grants(session):
            if grant_spec.label == change.key:
                og.delete_object_grant(session, grant_spec)
    elif change.kind == "grant":
        for grant in session.scalars(select(Grant)):
            key = (grant.client_system_id, grant.service_id, grant.methods, grant.path_pattern)
            if _grant_label(key) == change.key:
                ops.delete_grant(session, grant.id)
    elif change.kind == "service" and session.get(Service, change.key) is not None:
        ops.delete_service(session, change.key)
    elif change.kind == "system" and session.get(System, change.key) is not None:
        ops.delete_system(session, change.key)
    elif change.kind == "agency" and session.get(Agency, change.key) is not None:
        ops.delete_agency(session, change.key)
    session.flush()


def _parents_first(agencies: list[ops.AgencySpec]) -> list[ops.AgencySpec]:
    by_code = {a.code: a for a in agencies}
    ordered: list[ops.AgencySpec] = []
    seen: set[str] = set()

    def visit(a: ops.AgencySpec) -> None:
        if a.code in seen:
            return
        seen.add(a.code)
        if a.parent and a.parent in by_code:
            visit(by_code[a.parent])
        ordered.append(a)

    for agency in agencies:
        visit(agency)
    return ordered


def export(engine: Engine) -> str:
    """The whole registry in the `apply` file format (defaults omitted, so files stay short)."""
    with Session(engine) as session:
        state = current_state(session)
    defaults = _service_dict(_SERVICE_DEFAULTS)
    services = []
    for svc in state.services:
        values = _service_dict(svc)
        item: dict[str, Any] = {"id": svc.id, "name": svc.name, "base_url": values["base_url"]}
        for key, value in values.items():
            if key in {"system", "code", "name", "base_url"} or value == defaults[key]:
                continue
            item[key] = value
        services.append(item)
    data = {
        "agencies": [{k: v for k, v in asdict(a).items() if v is not None} for a in state.agencies],
        "systems": [{"id": s.id, "name": s.name, "client": s.client, "provider": s.provider,
                     **({"jwks": s.jwks} if s.jwks else {}),
                     **({"client_cert_sha256": s.client_cert_sha256} if s.client_cert_sha256 else {})}
                    for s in state.systems],
        "services": services,
        "grants": [{"client": g.client, "service": g.service, "methods": g.methods, "path": g.path}
                   for g in state.grants],
    }
    if state.limits:
        data["limits"] = [lim.spec_to_mapping(spec) for spec in state.limits]
    if state.object_grants:  # only when there are any, like datasets
        data["object_grants"] = [{"client": g.client, "objects": g.objects, "agency": g.agency}
                                 for g in state.object_grants]
    if state.datasets:  # only when there are any: registries without open data export as before
        data["datasets"] = [ds.record_to_mapping(d) for d in state.datasets]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
