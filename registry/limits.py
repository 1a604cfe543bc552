"""Validated changes to traffic limits (`limits:` in registry files, `/admin/limits`), like registry.operations."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import traffic_policy as policy
from registry.errors import RegistryError, RegistryNotFound
from registry.inputs import InputError, check_display_name
from registry.models import Service, ServiceLimit, System, bump_version


@dataclass
class LimitEntry:
    """One limit as written in a registry file's ``limits:`` and sent to ``PUT /admin/limits`` (the admin API's
    body is made from this class, so its keys are listed once); :func:`spec_from_mapping` checks it."""

    service: str
    client: str = ""
    rate: float | str | None = None  # requests per second, or "N/s", "N/min", "N/h"
    burst: int | None = None
    quota: int | None = None
    per: str | None = None  # hour | day | month
    concurrency: int | None = None


_KEYS = {f.name for f in fields(LimitEntry)}


@dataclass
class LimitSpec:
    service: str
    client: str = policy.ALL_CALLERS  # a system id, "*" (each client) or "" (all callers together)
    rate_per_second: float | None = None
    burst: int | None = None
    quota: int | None = None
    quota_period: str | None = None
    concurrency: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.client)

    @property
    def label(self) -> str:
        who = {policy.ALL_CALLERS: "all callers", policy.EACH_CLIENT: "each client"}.get(self.client, self.client)
        return f"{self.service} for {who}"

    def as_limit(self) -> policy.TrafficLimit:
        return policy.TrafficLimit(self.service, self.client, self.rate_per_second, self.burst, self.quota,
                                   self.quota_period, self.concurrency)


def _int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RegistryError(name, f"{name} must be a whole number")
    return value


def spec_from_mapping(item: Any, where: str) -> LimitSpec:
    """One entry of a registry file's `limits:` (or an admin API body) -> a validated spec."""
    if not isinstance(item, dict):
        raise RegistryError(where, "must be a mapping")
    unknown = set(item) - _KEYS
    if unknown:
        raise RegistryError(where, f"unknown keys: {', '.join(sorted(unknown))}")
    if "service" not in item:
        raise RegistryError(where, "missing key: service")
    try:
        rate = policy.parse_rate(item["rate"]) if item.get("rate") is not None else None
    except ValueError as exc:
        raise RegistryError(f"{where}.rate", str(exc)) from exc
    for key in ("service", "client"):  # NUL reached PostgreSQL's INSERT (a 500); no id holds a control character
        try:
            check_display_name(str(item.get(key) or ""), key)
        except InputError as exc:
            raise RegistryError(f"{where}.{key}", str(exc)) from exc
    spec = LimitSpec(service=str(item["service"]), client=str(item.get("client") or ""), rate_per_second=rate,
                     burst=_int(item.get("burst"), f"{where}.burst"), quota=_int(item.get("quota"), f"{where}.quota"),
                     quota_period=item.get("per"), concurrency=_int(item.get("concurrency"), f"{where}.concurrency"))
    try:
        policy.validate(spec.as_limit())
    except ValueError as exc:
        raise RegistryError(where, str(exc)) from exc
    return spec


def spec_to_mapping(spec: LimitSpec) -> dict[str, Any]:
    item: dict[str, Any] = {"service": spec.service}
    if spec.client:
        item["client"] = spec.client
    if spec.rate_per_second is not None:
        item["rate"] = spec.rate_per_second
    for name, value in (("burst", spec.burst), ("quota", spec.quota), ("per", spec.quota_period),
                        ("concurrency", spec.concurrency)):
        if value is not None:
            item[name] = value
    return item


def list_specs(session: Session) -> list[LimitSpec]:
    return [LimitSpec(r.service_id, r.client, r.rate_per_second, r.burst, r.quota, r.quota_period, r.concurrency)
            for r in session.scalars(select(ServiceLimit).order_by(ServiceLimit.service_id, ServiceLimit.client))]


def upsert_limit(session: Session, spec: LimitSpec) -> ServiceLimit:
    if session.get(Service, spec.service) is None:
        raise RegistryError("service", f"service {spec.service} is not registered")
    if spec.client not in (policy.ALL_CALLERS, policy.EACH_CLIENT) and session.get(System, spec.client) is None:
        raise RegistryError("client", f"system {spec.client} is not registered")
    try:
        policy.validate(spec.as_limit())
    except ValueError as exc:
        raise RegistryError("limit", str(exc)) from exc
    row = session.scalar(select(ServiceLimit).where(ServiceLimit.service_id == spec.service,
                                                    ServiceLimit.client == spec.client))
    values = {k: v for k, v in asdict(spec).items() if k not in {"service", "client"}}
    if row is None:
        row = ServiceLimit(service_id=spec.service, client=spec.client, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    bump_version(session)
    return row


def delete_limit(session: Session, service: str, client: str) -> None:
    row = session.scalar(select(ServiceLimit).where(ServiceLimit.service_id == service, ServiceLimit.client == client))
    if row is None:
        raise RegistryNotFound(f"no limit on {service} for {client or 'all callers'}")
    session.delete(row)
    bump_version(session)


def delete_limits_of(session: Session, *, service: str | None = None, client: str | None = None) -> None:
    """Called when a service or a client system goes, so no limit outlives what it names."""
    query = select(ServiceLimit)
    if service is not None:
        query = query.where(ServiceLimit.service_id == service)
    if client is not None:
        query = query.where(ServiceLimit.client == client)
    for row in session.scalars(query):
        session.delete(row)
