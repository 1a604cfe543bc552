"""Admin inputs (issue 19.6): WSDL confinement, no server paths in errors, agency cycles, names, disabling
admins, separation of duties. Through the running gateway's admin API, plus `lgsp apply`'s code path."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import Request
from sqlalchemy import update
from sqlalchemy.orm import Session

from lgsp.auth.clients import ClientError, create_client, set_disabled
from lgsp.store.db import writer
from registry import operations as ops
from registry.declarative import apply, parse_registry_file
from registry.models import Service
from tests.security.conftest import CITY, CLIENT, DEPT, NGSP, Stack, assert_problem

ADMIN = "/admin"


def put(stack: Stack, path: str, body: dict) -> tuple[int, str, dict]:
    response = stack.http.put(ADMIN + path, json=body, headers=stack.auth(stack.admin))
    return response.status_code, response.headers["content-type"], response.json()


def server_paths(stack: Stack) -> list[str]:
    schemas = str(Path(stack.app.runtime.settings.schemas_dir).resolve())
    return [schemas, str(Path(schemas).parent), "/etc/passwd"]


@pytest.mark.parametrize("wsdl_path", [
    "/etc/passwd", "../../../../etc/passwd", "wsdl/ngsp/../../../../../../etc/passwd", "wsdl/ngsp/missing.wsdl",
    "edxml/edxml-common.xsd",  # inside the folder, but not a WSDL
    "wsdl/ngsp\x00.wsdl",
])
def test_wsdl_paths_are_confined_and_checked_at_write_time(stack: Stack, wsdl_path: str) -> None:
    status, content_type, body = put(stack, f"/services/{DEPT}/PROV/evil", {
        "name": "Evil", "base_url": "http://127.0.0.1:1", "kind": "soap", "wsdl_path": wsdl_path})
    assert_problem(status, content_type, body, 422, "validation-failed")
    assert body["errors"][0]["field"] == "wsdl_path"
    text = str(body)
    assert all(p not in text for p in server_paths(stack)), text
    assert f"{DEPT}/PROV/evil" not in stack.app.runtime.registry.current().services


def test_a_good_wsdl_path_is_stored_relative(stack: Stack) -> None:
    schemas = Path(stack.app.runtime.settings.schemas_dir).resolve()
    status, _, body = put(stack, f"/services/{DEPT}/PROV/good", {
        "name": "Good", "base_url": "http://127.0.0.1:1", "kind": "soap",
        "wsdl_path": str(schemas / "wsdl" / "ngsp" / "ngsp.wsdl")})
    assert status == 200, body
    assert body["wsdl_path"] == "wsdl/ngsp/ngsp.wsdl"


def test_a_tampered_wsdl_path_fails_closed_without_naming_files(stack: Stack) -> None:
    """An operator with database access points a service at /etc/passwd: the gateway refuses to use it."""
    with Session(writer(stack.engine)) as session, session.begin():
        session.execute(update(Service).where(Service.id == NGSP).values(wsdl_path="/etc/passwd"))
        ops.bump_version(session)
    stack.app.runtime.registry_changed()
    try:
        response = stack.http.post(f"/services/{NGSP}/XacThucThongTinCongDan", json={"SoDinhDanh": "1"},
                                   headers=stack.auth())
        assert_problem(response.status_code, response.headers["content-type"], response.json(), 503,
                       "not-configured")
        assert all(p not in response.text for p in server_paths(stack))
    finally:
        with Session(writer(stack.engine)) as session, session.begin():
            session.execute(update(Service).where(Service.id == NGSP).values(wsdl_path="wsdl/ngsp/ngsp.wsdl"))
            ops.bump_version(session)
        stack.app.runtime.registry_changed()


def test_an_unexpected_error_is_problem_json_without_its_message(stack: Stack) -> None:
    async def boom(request: Request) -> None:
        raise RuntimeError("cannot open /srv/lgsp/secret/config.toml")

    stack.app.api.add_api_route("/admin-boom", boom)
    response = stack.http.get("/admin-boom")
    assert_problem(response.status_code, response.headers["content-type"], response.json(), 500, "internal-error")
    assert "/srv/lgsp" not in response.text and "RuntimeError" not in response.text


def test_agency_parent_cycles_are_refused(stack: Stack) -> None:
    status, content_type, body = put(stack, f"/agencies/{CITY}", {"name": "UBND", "parent": DEPT})
    assert_problem(status, content_type, body, 422, "validation-failed")
    assert body["errors"][0]["field"] == "parent" and "cycle" in body["detail"]
    cycle_file = f"""
agencies:
  - {{code: {CITY}, name: UBND thành phố Cần Thơ, parent: {DEPT}}}
  - {{code: {DEPT}, name: Sở Tư pháp, parent: {CITY}}}
"""
    with pytest.raises(ops.RegistryError) as info:
        apply(stack.engine, parse_registry_file(cycle_file))  # what `lgsp apply` runs
    assert info.value.field == "parent"


@pytest.mark.parametrize("name", ["Sở\x07Tư pháp", "line\nbreak", "<script>alert(1)</script>", "abc\u202egnp.exe"])
def test_names_with_control_characters_or_markup_are_refused(stack: Stack, name: str) -> None:
    for path in (f"/agencies/{DEPT}", f"/systems/{CITY}/MOTCUA"):
        status, content_type, body = put(stack, path, {"name": name, "parent": CITY} if "agencies" in path
                                         else {"name": name})
        assert_problem(status, content_type, body, 422, "validation-failed")
        assert body["errors"][0]["field"] == "name"
    response = stack.http.post(ADMIN + "/clients", json={"system": CLIENT, "scopes": ["gateway"], "description": name},
                               headers=stack.auth(stack.admin))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "description"
    status, _, body = put(stack, f"/agencies/{DEPT}", {"name": "Sở Tư pháp – Đà Nẵng (cũ) & \"mới\"", "parent": CITY})
    assert status == 200, body  # ordinary Vietnamese names and punctuation pass


def test_an_admin_cannot_disable_itself_or_the_last_admin(stack: Stack) -> None:
    own = stack.http.post(f"{ADMIN}/clients/{stack.admin.client_id}/disable", headers=stack.auth(stack.admin))
    assert_problem(own.status_code, own.headers["content-type"], own.json(), 422, "validation-failed")
    with pytest.raises(ClientError, match="last enabled admin"):
        set_disabled(stack.engine, stack.admin.client_id)  # what `lgsp clients disable` runs
    second = create_client(stack.engine, None, ["admin"])
    done = stack.http.post(f"{ADMIN}/clients/{second.client_id}/disable", headers=stack.auth(stack.admin))
    assert done.status_code == 204
    assert stack.http.get(ADMIN + "/agencies", headers=stack.auth(stack.admin)).status_code == 200


@pytest.mark.parametrize(("system", "scopes"), [(None, ["admin", "auditor"]), (CLIENT, ["admin", "gateway"]),
                                                (CLIENT, ["admin", "auditor", "gateway"])])
def test_admin_is_never_combined_with_auditor_or_gateway(stack: Stack, system: str | None,
                                                          scopes: list[str]) -> None:
    response = stack.http.post(ADMIN + "/clients", json={"system": system, "scopes": scopes},
                               headers=stack.auth(stack.admin))
    assert_problem(response.status_code, response.headers["content-type"], response.json(), 422,
                   "validation-failed")
    assert response.json()["errors"][0]["field"] == "scopes"


def test_separate_duties_can_still_be_created(stack: Stack) -> None:
    for system, scopes in ((None, ["admin", "metrics"]), (None, ["auditor", "metrics"]), (CLIENT, ["gateway"])):
        response = stack.http.post(ADMIN + "/clients", json={"system": system, "scopes": scopes},
                                   headers=stack.auth(stack.admin))
        assert response.status_code == 201, response.text


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", f"/services/{DEPT}/PROV/surrogate", b'{"name": "n", "base_url": "http://127.0.0.1:1/\\ud800"}'),
    ("PUT", f"/services/{DEPT}/PROV/surrogate", b'{"name": "n", "base_url": "http://127.0.0.1:1/\xed\xa0\x80"}'),
    ("POST", "/clients", b'{"system": "' + CLIENT.encode() + b'", "scopes": ["gateway"], "description": "\\udfff"}'),
    ("PUT", f"/services/{DEPT}/PROV/deep", b'{"name": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    ("PUT", f"/services/{DEPT}/PROV/digits", b'{"name": "n", "base_url": "http://a/", "retry_attempts": 1'
     + b"0" * 5000 + b"}"),
])
def test_json_no_store_can_hold_is_refused_before_the_handler(stack: Stack, method: str, path: str,
                                                               body: bytes) -> None:
    """A lone surrogate (escaped or as raw bytes) reached the database and was a 500; nesting and digit
    limits are refused the same way: a 4xx problem, and nothing is written."""
    before = stack.http.get(ADMIN + "/clients", headers=stack.auth(stack.admin)).json()
    response = stack.http.request(method, ADMIN + path, content=body, headers={
        **stack.auth(stack.admin), "Content-Type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert f"{DEPT}/PROV/surrogate" not in stack.app.runtime.registry.current().services
    assert stack.http.get(ADMIN + "/clients", headers=stack.auth(stack.admin)).json() == before


def test_a_client_description_longer_than_its_column_is_422(stack: Stack) -> None:
    """3,000 characters failed the INSERT on PostgreSQL (a 500); the API and lgsp clients create refuse it."""
    response = stack.http.post(ADMIN + "/clients", headers=stack.auth(stack.admin),
                               json={"system": CLIENT, "scopes": ["gateway"], "description": "d" * 3000})
    assert response.status_code == 422, response.text
    with pytest.raises(ClientError, match="at most 300"):
        create_client(stack.app.runtime.engine, CLIENT, ["gateway"], "d" * 301)
