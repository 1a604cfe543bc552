"""The registry stands on its own (issue 18): it imports nothing of lgsp's but the two bottom modules, owns
the tables' base, has no import cycle, and its spec classes are the one definition of each input rule --
the registry enforces them on every change and the admin API's bodies are made from them."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from registry import operations as ops
from registry.declarative import RegistryFileError, apply, parse_registry_file
from registry.object_grants import OBJECT_KINDS, ObjectGrantSpec, add_object_grant
from tests.core.conftest import CITY

ROOT = Path(__file__).resolve().parents[2]
#: What every layer may use (the XML hardening and the agency-identifier patterns).
BOTTOM = {"lgsp.safexml", "lgsp.agency_ids"}


def _imports(package: str) -> Iterator[tuple[str, str]]:
    """(module, imported name) for every import in the package, function-level and TYPE_CHECKING ones too."""
    for path in sorted((ROOT / package).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield from ((module, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield from ((module, f"{node.module}.{alias.name}") for alias in node.names)


def test_registry_imports_nothing_of_lgsp_but_the_bottom_modules() -> None:
    reaching_up = sorted({(m, name) for m, name in _imports("registry")
                          if name.split(".")[0] in {"lgsp", "adapters"}
                          and not any(name == b or name.startswith(b + ".") for b in BOTTOM)})
    assert reaching_up == []


def test_registry_modules_import_one_another_without_a_cycle() -> None:
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "registry").glob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, name in _imports("registry"):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            edges[module].add(name)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and not seen.add(n) and reaches(n, goal, seen)) for n in edges[start])

    assert sorted(m for m in modules if reaches(m, m, set())) == []


def test_lgsp_tables_and_the_registry_share_the_registrys_metadata() -> None:
    import lgsp.store.models  # noqa: F401  (every table registered)
    from lgsp.store.base import Base as LgspBase
    from registry.base import Base

    assert LgspBase is Base
    tables = Base.metadata.tables
    assert {"agencies", "systems", "services", "datasets", "object_grants"} <= set(tables)
    assert "oauth_clients" in tables  # an lgsp table, in the same MetaData: its FK to systems resolves
    assert any(fk.column.table is tables["systems"] for fk in tables["oauth_clients"].foreign_keys)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_registry_writes_ask_the_store_for_its_write_lock(engine: Engine) -> None:
    """The registry cannot import lgsp's store, yet a plan that reads before it writes must take SQLite's
    write lock at BEGIN (else "database is locked" when another writer commits in between)."""
    from sqlalchemy import event

    from lgsp.store.db import writer

    begun: list[object] = []
    event.listen(engine, "begin", lambda conn: begun.append(conn.get_execution_options().get("write_lock")))
    apply(engine, parse_registry_file(f"agencies:\n  - {{code: {CITY}, name: UBND}}\n"))
    assert begun == [True]
    assert writer(engine).get_execution_options()["write_lock"] is True  # one convention, lgsp's and the registry's


def test_the_registry_itself_refuses_a_name_the_admin_api_refuses(engine: Engine) -> None:
    from lgsp.api.bodies import AgencyIn, SystemIn

    long_name = "x" * 301
    with pytest.raises(ValidationError):
        AgencyIn.model_validate({"name": long_name})
    with pytest.raises(ValidationError):
        SystemIn.model_validate({"name": ""})
    # The same rule, from the same declaration, on `lgsp apply` (which never passes through pydantic):
    with pytest.raises(ops.RegistryError, match="name must be 1-300 characters") as caught:
        apply(engine, parse_registry_file(f"agencies:\n  - {{code: {CITY}, name: {long_name}}}\n"))
    assert caught.value.field == "name"
    apply(engine, parse_registry_file(f"agencies:\n  - {{code: {CITY}, name: {'x' * 300}}}\n"))


def test_object_grant_kinds_are_declared_once(engine: Engine) -> None:
    from lgsp.api.bodies import ObjectGrantIn

    schema = ObjectGrantIn.model_json_schema()
    assert tuple(schema["properties"]["objects"]["enum"]) == OBJECT_KINDS
    assert schema["properties"]["agency"]["maxLength"] == 13
    with pytest.raises(RegistryFileError, match="objects must be one of documents, dossiers"):
        parse_registry_file(f"object_grants: [{{client: {CITY}/QLVB, objects: services, agency: {CITY}}}]")
    with Session(engine) as session, pytest.raises(ops.RegistryError) as caught:
        add_object_grant(session, ObjectGrantSpec(f"{CITY}/QLVB", "services", CITY))
    assert caught.value.field == "objects"


def test_admin_bodies_carry_the_specs_defaults() -> None:
    from lgsp.api.bodies import GrantIn, LimitIn, ServiceIn

    service = ServiceIn.model_validate({"name": "s", "base_url": "http://a"}).model_dump()
    spec = ops.ServiceSpec(system="s/y", code="c", name="s", base_url="http://a")
    assert service == {k: v for k, v in vars(spec).items() if k not in {"system", "code"}}
    first, second = ServiceIn.model_validate(service), ServiceIn.model_validate(service)
    first.idempotent_methods.append("POST")  # type: ignore[attr-defined]
    assert second.idempotent_methods == ["GET", "HEAD", "OPTIONS"]  # type: ignore[attr-defined]
    assert GrantIn.model_validate({"client": "a/b", "service": "a/b/c"}).model_dump() == {
        "client": "a/b", "service": "a/b/c", "methods": ["*"], "path": "*"}
    assert set(LimitIn.model_fields) == {"service", "client", "rate", "burst", "quota", "per", "concurrency"}
