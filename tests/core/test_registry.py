"""Registry: identifiers, validation, deny-by-default grants, declarative apply/export, admin API."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from registry import operations as ops
from registry.declarative import RegistryFileError, apply, export, parse_registry_file
from registry.ids import InvalidIdentifier, validate_agency_code
from registry.snapshot import compile_path_pattern, load_snapshot
from tests.core.conftest import CITY, CLIENT, DEPT, ECHO, Stack


@pytest.mark.parametrize("code", ["000.00.12.H10", "000.00.00.G22", "123.45.67.A01",
                                  # real forms (PROTOCOLS.md §1.9): two-letter group, VXP SaaS, older short code
                                  "001.00.20.TT2", "vxp.saas.03", "28.22.H17"])
def test_valid_agency_codes(code: str) -> None:
    assert validate_agency_code(code) == code


@pytest.mark.parametrize("code", ["000.00.12.h10", "00.00.12.H10", "000.00.12.H1", "000-00-12-H10", "",
                                  "000.00.12.H10 ", "vxp.saas.", "CT-STP"])
def test_invalid_agency_codes(code: str) -> None:
    with pytest.raises(InvalidIdentifier):
        validate_agency_code(code)


def test_accepted_agency_code_forms_are_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_AGENCY_ID_PATTERNS", r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}")
    assert validate_agency_code("000.00.12.H10") == "000.00.12.H10"
    for code in ("vxp.saas.03", "001.00.20.TT2"):
        with pytest.raises(InvalidIdentifier):
            validate_agency_code(code)
    monkeypatch.setenv("LGSP_AGENCY_ID_PATTERNS", r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2};CT-[A-Z]+")
    assert validate_agency_code("CT-STP") == "CT-STP"


def test_path_patterns() -> None:
    pattern = compile_path_pattern("birth-records/*")
    assert pattern.fullmatch("birth-records/KS-1") and pattern.fullmatch("birth-records/a/b")
    assert not pattern.fullmatch("birth-records") and not pattern.fullmatch("other/1")


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


FILE = f"""
agencies:
  - {{code: {CITY}, name: UBND}}
  - {{code: {DEPT}, name: Sở Tư pháp, parent: {CITY}}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {DEPT}/PROV, name: Provider, client: false, provider: true}}
services:
  - {{id: {ECHO}, name: Echo, base_url: "http://127.0.0.1:9/api/", timeout_seconds: 3, idempotent_methods: [get]}}
grants:
  - {{client: {CLIENT}, service: {ECHO}, methods: [GET], path: "records/*"}}
"""


def test_apply_is_idempotent_and_export_round_trips(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = apply(engine, parse_registry_file(FILE))
    assert [(c.action, c.kind) for c in first] == [("+", "agency"), ("+", "agency"), ("+", "system"),
                                                  ("+", "system"), ("+", "service"), ("+", "grant")]
    assert apply(engine, parse_registry_file(FILE)) == []
    exported = export(engine)
    assert apply(engine, parse_registry_file(exported)) == []
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    apply(other, parse_registry_file(exported))
    assert export(other) == exported
    snapshot = load_snapshot(engine)
    assert snapshot.services[ECHO].base_url == "http://127.0.0.1:9/api"
    assert snapshot.services[ECHO].idempotent_methods == {"GET"}


def test_apply_shows_field_changes_dry_run_and_prune(engine) -> None:  # type: ignore[no-untyped-def]
    apply(engine, parse_registry_file(FILE))
    changed = FILE.replace("timeout_seconds: 3", "timeout_seconds: 7").replace(
        f"  - {{client: {CLIENT}, service: {ECHO}, methods: [GET], path: \"records/*\"}}\n", "")
    plan = apply(engine, parse_registry_file(changed), dry_run=True)
    assert [c.render() for c in plan] == [f"~ service {ECHO}\n    timeout_seconds: 3.0 -> 7.0"]
    assert load_snapshot(engine).services[ECHO].timeout_seconds == 3.0  # dry run changed nothing
    plan = apply(engine, parse_registry_file(changed), prune=True)
    assert [(c.action, c.kind) for c in plan] == [("~", "service"), ("-", "grant")]
    snapshot = load_snapshot(engine)
    assert snapshot.services[ECHO].timeout_seconds == 7.0
    assert not snapshot.is_granted(CLIENT, ECHO, "GET", "records/1")


def test_deny_by_default(engine) -> None:  # type: ignore[no-untyped-def]
    apply(engine, parse_registry_file(FILE))
    snapshot = load_snapshot(engine)
    assert snapshot.is_granted(CLIENT, ECHO, "GET", "records/1")
    assert not snapshot.is_granted(CLIENT, ECHO, "POST", "records/1")
    assert not snapshot.is_granted(CLIENT, ECHO, "GET", "secrets/1")
    assert not snapshot.is_granted(f"{DEPT}/PROV", ECHO, "GET", "records/1")


@pytest.mark.parametrize(("text", "where"), [
    ("agencies: [{code: bad, name: x}]", "code"),
    ("agencies: [{code: 000.00.12.H10}]", "agencies[0]"),
    ("nonsense: []", "file"),
    (f"agencies: [{{code: {CITY}, name: x, colour: red}}]", "agencies[0]"),
])
def test_bad_registry_files(engine, text: str, where: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((RegistryFileError, ops.RegistryError)) as info:
        apply(engine, parse_registry_file(text))
    assert getattr(info.value, "field", None) == where or getattr(info.value, "where", None) == where


def test_failed_apply_changes_nothing(engine) -> None:  # type: ignore[no-untyped-def]
    broken = FILE.replace('base_url: "http://127.0.0.1:9/api/"', 'base_url: "ftp://x"')
    with pytest.raises(ops.RegistryError) as info:
        apply(engine, parse_registry_file(broken))
    assert info.value.field == "base_url"
    assert load_snapshot(engine).agencies == frozenset()  # one transaction: the agencies rolled back too


def test_operations_validation(engine) -> None:  # type: ignore[no-untyped-def]
    apply(engine, parse_registry_file(FILE))
    with Session(engine) as session:
        with pytest.raises(ops.RegistryError, match="not registered as a provider"):
            ops.upsert_service(session, ops.ServiceSpec(system=CLIENT, code="x", name="x", base_url="http://a"))
        with pytest.raises(ops.RegistryError) as info:
            ops.add_grant(session, ops.GrantSpec(CLIENT, ECHO, ["FETCH"]))
        assert info.value.field == "methods"
        with pytest.raises(ops.RegistryError) as info:
            ops.upsert_service(session, ops.ServiceSpec(system=f"{DEPT}/PROV", code="s", name="s",
                                                        base_url="http://a", kind="soap"))
        assert info.value.field == "wsdl_path"


@pytest.mark.parametrize(("field", "value"), [
    ("max_body_bytes", 2**63), ("max_body_bytes", 10**30), ("max_body_bytes", 0),
    ("retry_backoff_seconds", float("nan")), ("retry_backoff_seconds", 1e308), ("retry_backoff_seconds", -0.1),
    ("timeout_seconds", float("nan")), ("retry_attempts", 2**63),
])
def test_numeric_service_fields_out_of_range_are_refused(engine, field: str, value: float) -> None:  # type: ignore[no-untyped-def]
    """Refused by name before any row is written: 2^63 bytes failed at the INSERT (a 500 from the admin
    API), and a NaN or 1e308 s backoff would have reached the retry timer."""
    apply(engine, parse_registry_file(FILE))
    with Session(engine) as session, pytest.raises(ops.RegistryError) as info:
        ops.upsert_service(session, ops.ServiceSpec(system=f"{DEPT}/PROV", code="n", name="n",
                                                    base_url="http://a", **{field: value}))
    assert info.value.field == field


# --- admin API (through the running gateway) ------------------------------------------------------

def test_admin_api_requires_admin_scope(stack: Stack) -> None:
    assert stack.http.get("/admin/agencies").status_code == 401
    assert stack.http.get("/admin/agencies", headers=stack.auth(stack.client)).status_code == 403
    assert stack.http.get("/admin/agencies", headers=stack.auth(stack.auditor)).status_code == 403
    assert stack.http.get("/admin/agencies", headers=stack.auth(stack.admin)).status_code == 200


def test_admin_api_validation_errors_name_the_field(stack: Stack) -> None:
    admin = stack.auth(stack.admin)
    response = stack.http.put("/admin/agencies/000.00.12.X1", json={"name": "x"}, headers=admin)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "code"
    response = stack.http.put("/admin/agencies/000.00.77.H10", json={}, headers=admin)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "name"
    response = stack.http.put(f"/admin/services/{DEPT}/PROV/big", headers=admin,
                              json={"name": "big", "base_url": "http://127.0.0.1:9/", "max_body_bytes": 10**30})
    assert response.status_code == 422, response.text  # was a 500: the INSERT could not bind 10^30
    assert response.json()["errors"][0]["field"] == "max_body_bytes"
    response = stack.http.delete("/admin/grants/999999", headers=admin)
    assert response.status_code == 404 and response.json()["type"].endswith("/not-found")


def test_admin_api_changes_take_effect_in_the_gateway(stack: Stack) -> None:
    admin = stack.auth(stack.admin)
    other = f"{CITY}/OTHER"
    assert stack.http.get(f"/services/{ECHO}/data", headers=stack.auth(stack.other)).status_code == 403
    created = stack.http.post("/admin/grants", json={"client": other, "service": ECHO, "methods": ["GET"],
                                                      "path": "data"}, headers=admin)
    assert created.status_code == 201, created.text
    assert stack.http.get(f"/services/{ECHO}/data", headers=stack.auth(stack.other)).status_code == 200
    assert stack.http.delete(f"/admin/grants/{created.json()['id']}", headers=admin).status_code == 204
    assert stack.http.get(f"/services/{ECHO}/data", headers=stack.auth(stack.other)).status_code == 403
    agency = stack.http.put("/admin/agencies/000.00.77.H10", json={"name": "Sở mới", "parent": CITY},
                            headers=admin)
    assert agency.status_code == 200
    assert any(a["code"] == "000.00.77.H10" for a in stack.http.get("/admin/agencies", headers=admin).json())
    made = stack.http.post("/admin/clients", json={"system": other}, headers=admin).json()
    assert made["client_secret"] and made["scopes"] == ["gateway"]
    listed = stack.http.get("/admin/clients", headers=admin).json()
    assert all("secret" not in str(c) for c in listed)


def test_system_public_keys_round_trip_and_refuse_private_keys(engine) -> None:  # type: ignore[no-untyped-def]
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256")
    public = {**key.as_dict(private=False), "kid": "motcua-1"}
    with_keys = FILE.replace(f"  - {{id: {CLIENT}, name: Một cửa}}",
                             f"  - {{id: {CLIENT}, name: Một cửa, jwks: {{keys: [{public!r}]}}}}".replace("'", '"'))
    apply(engine, parse_registry_file(with_keys))
    assert "motcua-1" in export(engine)
    assert apply(engine, parse_registry_file(export(engine))) == []
    assert set(load_snapshot(engine).system_keys[CLIENT]) == {"motcua-1"}
    leaked = with_keys.replace('"kid": "motcua-1"', f'"kid": "motcua-1", "d": "{key.as_dict(private=True)["d"]}"')
    with pytest.raises(ops.RegistryError) as info:
        apply(engine, parse_registry_file(leaked))
    assert info.value.field == "jwks.keys[0]"


@pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")
def test_deleting_a_system_and_its_agency_deletes_each_row_once(engine) -> None:  # type: ignore[no-untyped-def]
    """A system with services, a grant to itself and grants both ways: no row is deleted twice (SQLAlchemy
    warned 'expected to delete 1 row, 0 matched' when the cascade re-deleted already deleted services)."""
    from sqlalchemy import func, select

    from registry.models import Grant, Service, System

    agency = "000.00.77.H10"
    with Session(engine) as session:
        ops.upsert_agency(session, ops.AgencySpec(agency, "Sở thử"))
        for code in ("A", "B"):
            ops.upsert_system(session, ops.SystemSpec(agency, code, code, client=True, provider=True))
            ops.upsert_service(session, ops.ServiceSpec(f"{agency}/{code}", "svc", "S", "http://127.0.0.1:1"))
        session.commit()
        for client, service in (("A", "A"), ("B", "A"), ("A", "B")):
            ops.add_grant(session, ops.GrantSpec(f"{agency}/{client}", f"{agency}/{service}/svc", ["GET"]))
        session.commit()
        ops.delete_system(session, f"{agency}/A")
        session.commit()
        assert session.scalar(select(func.count()).select_from(Grant).where(
            Grant.service_id.like(f"{agency}/%"))) == 0  # the grant B -> A/svc went with the service
        assert session.scalar(select(func.count()).select_from(System).where(System.agency_code == agency)) == 1
        ops.delete_agency(session, agency)
        session.commit()
        assert session.scalar(select(func.count()).select_from(Service).where(
            Service.id.like(f"{agency}/%"))) == 0
