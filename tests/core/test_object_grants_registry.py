"""The registry side of object-level access (issues 17.1, 19.4): ``object_grants`` in registry files
(diff, idempotence, export round trip, prune, cascade with their system) and a dataset that names its
publisher only over a source the publisher is granted to read. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database
from registry import operations as ops
from registry.declarative import RegistryFileError, apply, export, parse_registry_file
from registry.object_grants import list_object_grants
from tests.core.test_registry_datasets import bundled_spec_as_registry_item

CITY, DEPT = "000.00.12.H10", "000.00.25.H10"
SERVICE = f"{DEPT}/QTMT/chat-luong-khong-khi"
PUBLISHER = f"{CITY}/OPENDATA"
BASE = f"""
agencies:
  - {{code: {CITY}, name: UBND}}
  - {{code: {DEPT}, name: Sở TNMT}}
systems:
  - {{id: {CITY}/QLVB, name: Văn bản}}
  - {{id: {PUBLISHER}, name: Xuất bản dữ liệu mở}}
  - {{id: {DEPT}/QTMT, name: Quan trắc, client: false, provider: true}}
services:
  - {{id: {SERVICE}, name: Chất lượng không khí, base_url: "http://127.0.0.1:9"}}
"""
OBJECTS = f"""
object_grants:
  - {{client: {CITY}/QLVB, objects: documents, agency: {CITY}}}
  - {{client: {CITY}/QLVB, objects: dossiers, agency: {DEPT}}}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'r.db'}" if request.param == "sqlite" else create_database("lgsp_t_objects")
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_database(url)


def test_object_grants_apply_export_and_prune(engine: Engine) -> None:
    changes = apply(engine, parse_registry_file(BASE + OBJECTS))
    assert [c.key for c in changes if c.kind == "object-grant"] == [
        f"{CITY}/QLVB -> documents of {CITY}", f"{CITY}/QLVB -> dossiers of {DEPT}"]
    assert apply(engine, parse_registry_file(BASE + OBJECTS)) == []
    exported = export(engine)
    assert len(yaml.safe_load(exported)["object_grants"]) == 2
    assert apply(engine, parse_registry_file(exported)) == []
    pruned = apply(engine, parse_registry_file(BASE), prune=True)
    assert [(c.action, c.kind) for c in pruned] == [("-", "object-grant")] * 2
    with Session(engine) as session:
        assert list_object_grants(session) == []


def test_an_object_grant_goes_with_its_system(engine: Engine) -> None:
    apply(engine, parse_registry_file(BASE + OBJECTS))
    with Session(engine) as session, session.begin():
        ops.delete_system(session, f"{CITY}/QLVB")
    with Session(engine) as session:
        assert list_object_grants(session) == []


def test_bad_object_grants_name_what_to_fix(engine: Engine) -> None:
    with pytest.raises(RegistryFileError, match="objects must be one of"):
        parse_registry_file(f"object_grants: [{{client: {CITY}/QLVB, objects: services, agency: {CITY}}}]")
    with pytest.raises(ops.RegistryError, match="no system"):
        apply(engine, parse_registry_file(BASE + f"object_grants: [{{client: {CITY}/NONE, objects: documents, "
                                                 f"agency: {CITY}}}]"))


def _dataset_file(grant: str) -> str:
    item = bundled_spec_as_registry_item()
    item["owner_agency_id"] = DEPT
    item["source_service"] = SERVICE
    item["publisher"] = PUBLISHER
    return BASE + grant + yaml.safe_dump({"datasets": [item]}, allow_unicode=True, sort_keys=False)


def test_a_dataset_needs_its_publishers_grant_on_the_source(engine: Engine) -> None:
    with pytest.raises(ops.RegistryError, match="no GET grant"):
        apply(engine, parse_registry_file(_dataset_file("")))
    wrong_path = f"grants:\n  - {{client: {PUBLISHER}, service: {SERVICE}, methods: [GET], path: other/*}}\n"
    with pytest.raises(ops.RegistryError, match="no GET grant"):
        apply(engine, parse_registry_file(_dataset_file(wrong_path)))
    post_only = f"grants:\n  - {{client: {PUBLISHER}, service: {SERVICE}, methods: [POST]}}\n"
    with pytest.raises(ops.RegistryError, match="no GET grant"):
        apply(engine, parse_registry_file(_dataset_file(post_only)))
    granted = f"grants:\n  - {{client: {PUBLISHER}, service: {SERVICE}, methods: [GET]}}\n"
    changes = apply(engine, parse_registry_file(_dataset_file(granted)))
    assert ("+", "dataset") in [(c.action, c.kind) for c in changes]
    assert yaml.safe_load(export(engine))["datasets"][0]["publisher"] == PUBLISHER
    assert apply(engine, parse_registry_file(export(engine))) == []
