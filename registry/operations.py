"""Validated changes to the registry, shared by the admin API, the CLI and declarative apply.

Every change bumps `registry_state.version` in the same transaction, which is how gateway processes
learn that their cached snapshot is stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import RegistryError, RegistryNotFound
from registry.ids import (
    InvalidIdentifier,
    service_id,
    split_service_id,
    split_system_id,
    system_id,
    validate_agency_code,
    validate_code,
)
from registry.inputs import NAME, InputError, check_declared, check_display_name, check_wsdl_path
from registry.limits import delete_limits_of
from registry.models import Agency, Grant, Service, System, bump_version
from registry.object_grants import forget_agency, forget_system

HTTP_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
SIGNATURE_POLICIES = frozenset({"off", "report", "require"})
#: the largest value a signed 64-bit store column holds (a larger max_body_bytes failed at the INSERT, as a 500)
_INT64_MAX = 2**63 - 1


# The specs are what every way of changing the registry builds (admin API, CLI, registry files); rules on a
# single field are declared in its metadata (registry.inputs.NAME, ...) and the admin API's bodies are made
# from these classes (lgsp.api.bodies), so a rule is written once.


@dataclass
class AgencySpec:
    code: str
    name: str = field(metadata=NAME)
    parent: str | None = None


@dataclass
class SystemSpec:
    agency: str
    code: str
    name: str = field(metadata=NAME)
    client: bool = True
    provider: bool = False
    jwks: dict[str, Any] | None = None
    #: Bound client certificates: SHA-256 fingerprints of the DER (lgsp.gateway.client_certs).
    client_cert_sha256: list[str] | None = None

    @property
    def id(self) -> str:
        return system_id(self.agency, self.code)


@dataclass
class ServiceSpec:
    system: str  # system id
    code: str
    name: str = field(metadata=NAME)
    base_url: str
    kind: str = "rest"
    wsdl_path: str | None = None
    timeout_seconds: float = 10.0
    retry_attempts: int = 2
    retry_backoff_seconds: float = 0.2
    idempotent_methods: list[str] = field(default_factory=lambda: ["GET", "HEAD", "OPTIONS"])
    max_body_bytes: int | None = None
    signature_policy: str = "off"
    keep_bodies: bool = False

    @property
    def id(self) -> str:
        return f"{self.system}/{self.code}"


@dataclass
class GrantSpec:
    client: str  # client system id
    service: str  # service id
    methods: list[str] = field(default_factory=lambda: ["*"])
    path: str = "*"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.client, self.service, normalise_methods(self.methods, "methods"), self.path)


def _name(value: str, field_name: str) -> None:
    try:
        check_display_name(value, field_name)
    except InputError as exc:
        raise RegistryError(exc.field, str(exc)) from exc


def _declared(spec: object) -> None:
    try:
        check_declared(spec)
    except InputError as exc:
        raise RegistryError(exc.field, str(exc)) from exc


def _reraise(exc: InvalidIdentifier) -> RegistryError:
    return RegistryError(exc.field, str(exc))


def normalise_methods(methods: list[str], field_name: str) -> str:
    upper = sorted({m.upper() for m in methods})
    if not upper:
        raise RegistryError(field_name, "at least one method (or '*') is required")
    if "*" in upper:
        return "*"
    unknown = [m for m in upper if m not in HTTP_METHODS]
    if unknown:
        raise RegistryError(field_name, f"unknown HTTP methods: {', '.join(unknown)}")
    return ",".join(upper)


def upsert_agency(session: Session, spec: AgencySpec) -> Agency:
    try:
        validate_agency_code(spec.code, "code")
        if spec.parent is not None:
            validate_agency_code(spec.parent, "parent")
    except InvalidIdentifier as exc:
        raise _reraise(exc) from exc
    if not spec.name.strip():
        raise RegistryError("name", "an agency needs a name")
    if spec.parent == spec.code:
        raise RegistryError("parent", "an agency cannot be its own parent")
    _declared(spec)
    _name(spec.name, "name")
    if spec.parent is not None and session.get(Agency, spec.parent) is None:
        raise RegistryError("parent", f"parent agency {spec.parent} is not registered")
    _refuse_parent_cycle(session, spec.code, spec.parent)
    agency = session.get(Agency, spec.code)
    if agency is None:
        agency = Agency(code=spec.code, name=spec.name, parent_code=spec.parent)
        session.add(agency)
    else:
        agency.name, agency.parent_code = spec.name, spec.parent
    bump_version(session)
    return agency


def _refuse_parent_cycle(session: Session, code: str, parent: str | None) -> None:
    """Walk up from the new parent: meeting `code` again means the change would close a cycle (which
    `lgsp registry export` would then write into a file that `lgsp apply` cannot load)."""
    seen = {code}
    while parent is not None:
        if parent in seen:
            raise RegistryError("parent", f"making {parent} the parent of {code} would create a cycle of parents")
        seen.add(parent)
        row = session.get(Agency, parent)
        parent = row.parent_code if row is not None else None


def upsert_system(session: Session, spec: SystemSpec) -> System:
    try:
        validate_agency_code(spec.agency, "agency")
        validate_code(spec.code, "code")
    except InvalidIdentifier as exc:
        raise _reraise(exc) from exc
    if session.get(Agency, spec.agency) is None:
        raise RegistryError("agency", f"agency {spec.agency} is not registered")
    _declared(spec)
    _name(spec.name, "name")
    if not (spec.client or spec.provider):
        raise RegistryError("client", "a system must be a client, a provider, or both")
    jwks = validate_jwks(spec.jwks) if spec.jwks is not None else None
    certs = validate_cert_fingerprints(spec.client_cert_sha256)
    system = session.get(System, spec.id)
    if system is None:
        system = System(id=spec.id, agency_code=spec.agency, code=spec.code, name=spec.name,
                        is_client=spec.client, is_provider=spec.provider, jwks=jwks, client_cert_sha256=certs)
        session.add(system)
    else:
        system.name, system.is_client, system.is_provider = spec.name, spec.client, spec.provider
        system.jwks = jwks
        system.client_cert_sha256 = certs
    bump_version(session)
    return system


_FINGERPRINT_RE = re.compile(r"[0-9a-f]{64}")


def validate_cert_fingerprints(value: Any) -> list[str] | None:
    """One fingerprint or a list, as `openssl x509 -fingerprint -sha256` prints it (colons, any case) or
    as plain hex; stored sorted, lowercase, without colons, so export -> apply is a no-op. Empty = unbound."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise RegistryError("client_cert_sha256", "must be a SHA-256 fingerprint or a list of them")
    found = set()
    for item in items:
        hexed = re.sub(r"[\s:]", "", item).lower()
        if not _FINGERPRINT_RE.fullmatch(hexed):
            raise RegistryError("client_cert_sha256", f"{item!r} is not a SHA-256 fingerprint (64 hex digits, "
                                                      "colons allowed)")
        found.add(hexed)
    return sorted(found) or None


def validate_jwks(jwks: Any) -> dict[str, Any]:
    """A JWKS of public keys, each with a unique `kid` (the gateway matches JWS headers by it)."""
    from joserfc.errors import JoseError
    from joserfc.jwk import JWKRegistry

    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise RegistryError("jwks", 'jwks must be {"keys": [ ... ]} with at least one key')
    seen: set[str] = set()
    for i, key in enumerate(jwks["keys"]):
        kid = key.get("kid") if isinstance(key, dict) else None
        if not isinstance(kid, str) or not kid:
            raise RegistryError(f"jwks.keys[{i}]", "every key needs a 'kid'")
        if kid in seen:
            raise RegistryError(f"jwks.keys[{i}]", f"duplicate kid {kid!r}")
        seen.add(kid)
        try:
            imported = JWKRegistry.import_key(key)
        except (JoseError, ValueError, TypeError) as exc:
            raise RegistryError(f"jwks.keys[{i}]", f"not a usable JWK: {exc}") from exc
        if imported.is_private:
            raise RegistryError(f"jwks.keys[{i}]", "private key material must never be registered; "
                                                   "give the public key only")
    return {"keys": [dict(k) for k in jwks["keys"]]}


def _validate_service(spec: ServiceSpec, schemas_dir: Path | None) -> str | None:
    """Check the spec; returns the WSDL path to store (relative to the schemas directory)."""
    try:
        split_system_id(spec.system, "system")
        validate_code(spec.code, "code")
    except InvalidIdentifier as exc:
        raise _reraise(exc) from exc
    _declared(spec)
    _name(spec.name, "name")
    if spec.kind not in {"rest", "soap"}:
        raise RegistryError("kind", "kind must be 'rest' or 'soap'")
    parts = urlsplit(spec.base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise RegistryError("base_url", f"{spec.base_url!r} is not an http(s) URL")
    if spec.kind == "soap" and not spec.wsdl_path:
        raise RegistryError("wsdl_path", "a SOAP service needs the path of its WSDL")
    if not 0 < spec.timeout_seconds <= 600:
        raise RegistryError("timeout_seconds", "timeout must be between 0 and 600 seconds")
    if not 0 <= spec.retry_attempts <= 10:
        raise RegistryError("retry_attempts", "retry attempts must be between 0 and 10")
    if not 0 <= spec.retry_backoff_seconds <= 60:  # written so that NaN (YAML's .nan) is refused too
        raise RegistryError("retry_backoff_seconds", "backoff must be between 0 and 60 seconds")
    for method in spec.idempotent_methods:
        if method.upper() not in HTTP_METHODS:
            raise RegistryError("idempotent_methods", f"unknown HTTP method {method!r}")
    if spec.max_body_bytes is not None and not 0 < spec.max_body_bytes <= _INT64_MAX:
        raise RegistryError("max_body_bytes", f"must be between 1 and {_INT64_MAX} (a 64-bit column)")
    if spec.signature_policy not in SIGNATURE_POLICIES:
        raise RegistryError("signature_policy", "must be one of off, report, require")
    if spec.wsdl_path is None:
        return None
    try:
        return check_wsdl_path(spec.wsdl_path, schemas_dir)
    except InputError as exc:
        raise RegistryError(exc.field, str(exc)) from exc


def upsert_service(session: Session, spec: ServiceSpec, schemas_dir: Path | None = None) -> Service:
    """Create or update a service; ``schemas_dir`` confines its WSDL (the caller's setting; None = the
    directory shipped with the code, :data:`registry.inputs.PACKAGED_SCHEMAS_DIR`)."""
    wsdl_path = _validate_service(spec, schemas_dir)
    system = session.get(System, spec.system)
    if system is None:
        raise RegistryError("system", f"system {spec.system} is not registered")
    if not system.is_provider:
        raise RegistryError("system", f"system {spec.system} is not registered as a provider")
    values: dict[str, Any] = {
        "system_id": spec.system, "code": spec.code, "name": spec.name, "kind": spec.kind,
        "base_url": spec.base_url.rstrip("/"), "wsdl_path": wsdl_path,
        "timeout_seconds": float(spec.timeout_seconds), "retry_attempts": int(spec.retry_attempts),
        "retry_backoff_seconds": float(spec.retry_backoff_seconds),
        "idempotent_methods": sorted({m.upper() for m in spec.idempotent_methods}),
        "max_body_bytes": spec.max_body_bytes, "signature_policy": spec.signature_policy,
        "keep_bodies": spec.keep_bodies,
    }
    service = session.get(Service, spec.id)
    if service is None:
        service = Service(id=spec.id, **values)
        session.add(service)
    else:
        for key, value in values.items():
            setattr(service, key, value)
    bump_version(session)
    return service


def add_grant(session: Session, spec: GrantSpec) -> Grant:
    try:
        split_system_id(spec.client, "client")
        split_service_id(spec.service, "service")
    except InvalidIdentifier as exc:
        raise _reraise(exc) from exc
    client = session.get(System, spec.client)
    if client is None:
        raise RegistryError("client", f"system {spec.client} is not registered")
    if not client.is_client:
        raise RegistryError("client", f"system {spec.client} is not registered as a client")
    if session.get(Service, spec.service) is None:
        raise RegistryError("service", f"service {spec.service} is not registered")
    if not spec.path or len(spec.path) > 500:
        raise RegistryError("path", "path pattern must be 1-500 characters ('*' for all)")
    methods = normalise_methods(spec.methods, "methods")
    existing = session.scalar(select(Grant).where(
        Grant.client_system_id == spec.client, Grant.service_id == spec.service,
        Grant.methods == methods, Grant.path_pattern == spec.path))
    if existing is not None:
        return existing
    grant = Grant(client_system_id=spec.client, service_id=spec.service, methods=methods,
                  path_pattern=spec.path)
    session.add(grant)
    bump_version(session)
    return grant


def delete_grant(session: Session, grant_id: int) -> None:
    grant = session.get(Grant, grant_id)
    if grant is None:
        raise RegistryNotFound(f"no grant {grant_id}")
    session.delete(grant)
    bump_version(session)


def delete_service(session: Session, sid: str) -> None:
    service = session.get(Service, sid)
    if service is None:
        raise RegistryNotFound(f"no service {sid}")
    for grant in session.scalars(select(Grant).where(Grant.service_id == sid)):
        session.delete(grant)
    delete_limits_of(session, service=sid)
    session.delete(service)
    bump_version(session)


def delete_system(session: Session, sid: str) -> None:
    system = session.get(System, sid)
    if system is None:
        raise RegistryNotFound(f"no system {sid}")
    for grant in session.scalars(select(Grant).where(Grant.client_system_id == sid)):
        session.delete(grant)
    delete_limits_of(session, client=sid)
    forget_system(session, sid)
    for service in list(system.services):
        delete_service(session, service.id)
    session.expire(system, ["services"])  # already deleted: the cascade must not delete them again
    session.delete(system)
    bump_version(session)


def delete_agency(session: Session, code: str) -> None:
    agency = session.get(Agency, code)
    if agency is None:
        raise RegistryNotFound(f"no agency {code}")
    if session.scalar(select(Agency).where(Agency.parent_code == code)) is not None:
        raise RegistryError("code", f"agency {code} still has child agencies")
    for system in list(agency.systems):
        delete_system(session, system.id)
    session.expire(agency, ["systems"])  # already deleted: the cascade must not delete them again
    forget_agency(session, code)
    session.delete(agency)
    bump_version(session)


__all__ = [
    "AgencySpec", "GrantSpec", "RegistryError", "RegistryNotFound", "ServiceSpec", "SystemSpec",
    "add_grant", "bump_version", "delete_agency", "delete_grant", "delete_service", "delete_system", "service_id",
    "upsert_agency", "upsert_service", "upsert_system",
]
