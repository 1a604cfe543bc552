"""A registry file with any value of any type in any field: a RegistryFileError or RegistryError naming it,
never a traceback (`lgsp apply`) or a 500 (the console's registry preview).

Before, a list where a name belongs raised AttributeError inside validation, and ``client: "false"`` was
read as True.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from registry import operations as ops
from registry.declarative import RegistryFileError, apply, parse_registry_file

CITY, DEPT = "000.00.12.H10", "000.00.31.H10"
SERVICE = f"{DEPT}/PROV/echo"

BASE: dict[str, Any] = {
    "agencies": [{"code": CITY, "name": "UBND"}, {"code": DEPT, "name": "Sở Tư pháp", "parent": CITY}],
    "systems": [{"id": f"{CITY}/MOTCUA", "name": "Một cửa"},
                {"id": f"{DEPT}/PROV", "name": "Provider", "client": False, "provider": True}],
    "services": [{"id": SERVICE, "name": "Echo", "base_url": "http://127.0.0.1:9/api/", "timeout_seconds": 3,
                  "retry_attempts": 1, "retry_backoff_seconds": 0.1, "idempotent_methods": ["GET"],
                  "max_body_bytes": 1000}],
    "grants": [{"client": f"{CITY}/MOTCUA", "service": SERVICE, "methods": ["GET"], "path": "records/*"}],
    "object_grants": [{"client": f"{CITY}/MOTCUA", "objects": "documents", "agency": DEPT}],
}
FIELDS = [(section, i, key) for section, items in BASE.items() for i, item in enumerate(items) for key in item]

any_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.dates(min_value=datetime.date(1900, 1, 1)) | st.sampled_from(["false", "true", "10", "", "GET"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('types')) / 'r.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_the_base_file_applies(engine: Engine) -> None:
    assert apply(engine, parse_registry_file(yaml.safe_dump(BASE, allow_unicode=True)), dry_run=True)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(FIELDS), value=any_value)
def test_any_value_in_any_field_is_applied_or_refused_by_name(engine: Engine, where: tuple[str, int, str],
                                                             value: Any) -> None:
    section, index, key = where
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data[section][index][key] = value
    try:
        apply(engine, parse_registry_file(yaml.safe_dump(data, allow_unicode=True)), dry_run=True)
    except (RegistryFileError, ops.RegistryError):
        pass


@pytest.mark.parametrize(("section", "key", "value", "where"), [
    ("agencies", "name", ["a", "b"], "agencies[0].name"),
    ("agencies", "name", datetime.date(2026, 1, 1), "agencies[0].name"),
    ("systems", "client", "false", "systems[0].client"),
    ("systems", "id", 12, "systems[0].id"),
    ("services", "timeout_seconds", "10", "services[0].timeout_seconds"),
    ("grants", "methods", "GET", "grants[0].methods"),
])
def test_a_wrong_type_is_named(engine: Engine, section: str, key: str, value: Any, where: str) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data[section][0][key] = value
    with pytest.raises(RegistryFileError) as info:
        parse_registry_file(yaml.safe_dump(data, allow_unicode=True))
    assert info.value.where == where


def test_an_alias_bomb_in_a_list_is_refused_at_once() -> None:
    lines = ["agencies:", f"  - code: {CITY}", "    name: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    previous = "a"
    for index, anchor in enumerate("bcdefgh"):
        lines += [f"  - code: 000.00.{20 + index}.H10", f"    name: &{anchor} [{', '.join([f'*{previous}'] * 9)}]"]
        previous = anchor
    with pytest.raises(RegistryFileError, match=r"must be a string|alias bomb"):  # at once, either way
        parse_registry_file("\n".join(lines))
