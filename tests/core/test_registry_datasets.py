"""Open datasets in the registry: the `datasets:` section of `lgsp apply` (diff, idempotence, export round
trip, prune, validation), the specs the pipeline gets from the rows, and the schedule lease workers share."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database
from registry import datasets as ds
from registry import operations as ops
from registry.dataset_spec import load_specs as load_yaml_specs
from registry.declarative import RegistryFileError, apply, export, parse_registry_file
from registry.snapshot import load_snapshot, read_version

ROOT = Path(__file__).resolve().parents[2]
AGENCY = "000.00.12.H10"
SERVICE = f"{AGENCY}/QTMT/chat-luong-khong-khi"
BUNDLED = load_yaml_specs(ROOT / "lgsp" / "opendata" / "datasets")["can-tho-air-quality"]

BASE = f"""
agencies:
  - {{code: {AGENCY}, name: UBND thành phố Cần Thơ}}
systems:
  - {{id: {AGENCY}/QTMT, name: Quan trắc, client: false, provider: true}}
services:
  - {{id: {SERVICE}, name: Chất lượng không khí, base_url: "http://127.0.0.1:9"}}
"""


def bundled_spec_as_registry_item() -> dict:  # type: ignore[type-arg]
    """The bundled YAML spec, pasted as is into a `datasets:` entry (inline personal marks included)."""
    data = yaml.safe_load((ROOT / "lgsp" / "opendata" / "datasets" / "can-tho-air-quality.yaml").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def registry_file(*items: dict) -> str:  # type: ignore[type-arg]
    return BASE + yaml.safe_dump({"datasets": list(items)}, allow_unicode=True, sort_keys=False)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_apply_adds_a_dataset_idempotently_and_export_round_trips(engine: Engine, tmp_path: Path) -> None:
    text_ = registry_file(bundled_spec_as_registry_item())
    first = apply(engine, parse_registry_file(text_))
    assert [(c.action, c.kind, c.key) for c in first][-1] == ("+", "dataset", "can-tho-air-quality")
    assert f"source: {SERVICE}/readings" in first[-1].render()
    assert apply(engine, parse_registry_file(text_)) == []

    exported = export(engine)
    section = yaml.safe_load(exported)["datasets"]
    # personal rules are exported apart from the schema, and the schema carries none inline
    assert section[0]["personal"] == {"operator_name": "drop", "operator_phone": "mask"}
    assert all("personal" not in f for f in section[0]["table_schema"]["fields"])
    assert apply(engine, parse_registry_file(exported)) == []
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    apply(other, parse_registry_file(exported))
    assert export(other) == exported


def test_the_pipeline_spec_from_the_registry_equals_the_yaml_spec(engine: Engine) -> None:
    apply(engine, parse_registry_file(registry_file(bundled_spec_as_registry_item())))
    specs = ds.load_specs(engine)
    assert specs == {"can-tho-air-quality": BUNDLED}
    assert specs["can-tho-air-quality"].personal_fields == {"operator_name": "drop", "operator_phone": "mask"}
    assert "operator_name" not in specs["can-tho-air-quality"].published_fields


def test_changes_show_as_a_field_diff_dry_run_changes_nothing_and_prune_removes(engine: Engine) -> None:
    item = bundled_spec_as_registry_item()
    apply(engine, parse_registry_file(registry_file(item)))
    version = read_version(engine)
    changed = dict(item, schedule="0 3 * * *", table_schema={
        **item["table_schema"],
        "fields": [dict(f, type="number") if f["name"] == "aqi" else f for f in item["table_schema"]["fields"]]})
    plan = apply(engine, parse_registry_file(registry_file(changed)), dry_run=True)
    assert [c.render() for c in plan] == [
        "~ dataset can-tho-air-quality\n    schedule: '5 * * * *' -> '0 3 * * *'\n    table_schema: field aqi"]
    assert ds.load_specs(engine)["can-tho-air-quality"].schedule == "5 * * * *"

    apply(engine, parse_registry_file(registry_file(changed)))
    assert ds.load_specs(engine)["can-tho-air-quality"].schedule == "0 3 * * *"
    assert read_version(engine) > version  # gateways drop their cached registry

    # a file without the dataset leaves it alone, unless pruning; pruning removes it before its service
    assert apply(engine, parse_registry_file(BASE)) == []
    assert [(c.action, c.kind) for c in apply(engine, parse_registry_file("{}"), prune=True)] == [
        ("-", "dataset"), ("-", "service"), ("-", "system"), ("-", "agency")]
    assert ds.load_specs(engine) == {}


@pytest.mark.parametrize(("change", "where", "message"), [
    ({"colour": "red"}, "datasets[0]", "unknown keys: colour"),
    ({"slug": None}, "datasets[0]", "missing keys: slug"),
    ({"slug": "chất-lượng"}, "datasets[0] (datasets.chất-lượng)", "ASCII"),
    ({"schedule": "every hour"}, "datasets[0] (datasets.can-tho-air-quality.schedule)", "5 fields"),
    ({"personal": {"ghost": "drop"}}, "datasets[0] (datasets.can-tho-air-quality.personal.ghost)", "does not declare"),
    ({"personal": {"station_id": "publish"}}, "datasets[0] (datasets.can-tho-air-quality.personal.station_id)",
     "one of"),
    ({"personal": {"operator_name": "mask"}}, "datasets[0] (datasets.can-tho-air-quality.personal.operator_name)",
     "marked 'drop' in the schema"),
    # longer than the column: a DataError traceback from lgsp apply on PostgreSQL before
    ({"title_vi": "t" * 3000}, "datasets[0] (datasets[0].title_vi)", "at most 500 characters"),
    ({"frequency": "f" * 60}, "datasets[0] (datasets[0].frequency)", "at most 50 characters"),
    # text no XML can carry: it made CKAN's /catalog.rdf malformed for every dataset (NUL: PostgreSQL refused it)
    ({"title_vi": "Cần Thơ \x01"}, "datasets[0] (datasets[0].title_vi)", "U+0001"),
    ({"description_en": "a\x00b"}, "datasets[0] (datasets[0].description_en)", "U+0000"),
    ({"organization_title": "Sở \ufffe"}, "datasets[0] (datasets[0].organization_title)", "U+FFFE"),
    ({"legal_basis": "QĐ \ud800"}, "datasets[0] (datasets[0].legal_basis)", "U+D800"),
    ({"tags": ["ok", "b\x1fad"]}, "datasets[0] (datasets[0].tags[1])", "U+001F"),
])
def test_bad_dataset_entries_name_what_to_fix(change: dict, where: str, message: str) -> None:  # type: ignore[type-arg]
    item = {k: v for k, v in {**bundled_spec_as_registry_item(), **change}.items() if v is not None}
    with pytest.raises(RegistryFileError) as info:
        parse_registry_file(registry_file(item))
    assert info.value.where == where
    assert message in str(info.value)


def test_markup_tabs_line_breaks_emoji_and_decomposed_vietnamese_are_kept_as_given() -> None:
    text = "Sở TN&MT <Cần Thơ> ]]>\t\n\U0001F600 Cha\u0302\u0301t \u202e"
    item = {**bundled_spec_as_registry_item(), "title_en": text, "description_vi": text}
    [record] = parse_registry_file(registry_file(item)).datasets
    assert record.spec.title_en == text and record.spec.description_vi == text


def test_a_dataset_needs_its_agency_and_a_registered_source_service(engine: Engine) -> None:
    item = dict(bundled_spec_as_registry_item(), source_service=f"{AGENCY}/QTMT/khong-co")
    with pytest.raises(ops.RegistryError) as info:
        apply(engine, parse_registry_file(registry_file(item)))
    assert info.value.field == "datasets.can-tho-air-quality.source_service"
    assert load_snapshot(engine).agencies == frozenset()  # one transaction: nothing of the file stayed

    twice = bundled_spec_as_registry_item()
    with pytest.raises(RegistryFileError, match="slug listed twice"):
        parse_registry_file(registry_file(twice, twice))

    apply(engine, parse_registry_file(registry_file(bundled_spec_as_registry_item())))
    with Session(engine) as session, pytest.raises(IntegrityError):  # the store refuses an orphan too
        ops.delete_service(session, SERVICE)
        session.flush()


def test_schedule_lease_is_held_by_one_worker_at_a_time(engine: Engine) -> None:
    apply(engine, parse_registry_file(registry_file(bundled_spec_as_registry_item())))
    slug, lease, now = "can-tho-air-quality", timedelta(minutes=5), datetime.now(UTC)
    first = ds.claim(engine, slug, lease, now)
    assert first is not None
    assert ds.claim(engine, slug, lease, now + timedelta(minutes=1)) is None  # held
    assert ds.claim(engine, "unknown", lease, now) is None
    # the holder died: its lease expires and another worker takes over; the old holder can no longer
    # record its outcome over the new claim's
    second = ds.claim(engine, slug, lease, now + timedelta(minutes=6))
    assert second is not None and second != first
    assert not ds.release(engine, slug, first, run_id="old", outcome="created", audit_index=1)
    assert ds.release(engine, slug, second, run_id="new", outcome="unchanged", audit_index=7)
    state = ds.schedule_state(engine)[slug]
    assert (state.last_run_id, state.last_outcome, state.last_audit_index, state.lease_token) == (
        "new", "unchanged", 7, None)
    assert state.last_attempt_at is not None and state.last_attempt_at.tzinfo is not None
    assert ds.claim(engine, slug, lease, now + timedelta(minutes=7)) is not None  # released: free again


@pytest.mark.postgres
def test_datasets_on_postgresql() -> None:
    url = create_database()
    engine = make_engine(url)
    try:
        upgrade(engine)
        text_ = registry_file(bundled_spec_as_registry_item())
        apply(engine, parse_registry_file(text_))
        assert apply(engine, parse_registry_file(text_)) == []
        assert ds.load_specs(engine) == {"can-tho-air-quality": BUNDLED}
        now = datetime.now(UTC)
        token = ds.claim(engine, "can-tho-air-quality", timedelta(minutes=5), now)
        assert token and ds.claim(engine, "can-tho-air-quality", timedelta(minutes=5), now) is None
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM dataset_schedule")).scalar() == 1
    finally:
        engine.dispose()
        drop_database(url)


def test_records_and_specs_agree_on_every_field() -> None:
    """Every DatasetSpec field the pipeline reads is a registry-file key (derived from the spec's fields)."""
    spec_fields = {f.name for f in dataclasses.fields(BUNDLED)} - {"extra"}
    record_fields = set(ds.RECORD_FIELDS) - {"personal", "publisher"}  # publisher: a registry-only check
    assert spec_fields == record_fields


def test_the_documented_datasets_section_is_valid() -> None:
    """docs/open-data.md shows a `datasets:` entry; it must parse as written."""
    doc = (ROOT / "docs" / "open-data.md").read_text(encoding="utf-8")
    [block] = [b for b in doc.split("```yaml\n")[1:] if b.startswith("datasets:")]
    [record] = parse_registry_file(block.split("```")[0]).datasets
    # the entry is the demo's air-quality dataset (tests/docs compares it with the demo registry)
    assert record.personal == {}
    assert record.to_spec().published_fields == ["ma_tram", "thoi_gian", "pm25", "pm10", "aqi"]
