"""Pipeline steps on their own (no CKAN): spec checks, personal-data scan and de-identification,
schema report, deterministic output, metadata hash / hand-edit detection, schedules."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime

import pytest

from lgsp.opendata import (
    CkanTarget,
    DatasetSpec,
    PersonalDataBlocked,
    PipelineConfig,
    SchemaViolation,
    SpecError,
    spec_from_dict,
)
from lgsp.opendata.output import build_artifacts, content_hash
from lgsp.opendata.personal import deidentify, ensure_no_personal_data, scan
from lgsp.opendata.pipeline import source_fingerprint
from lgsp.opendata.publish import dataset_metadata, hand_edit_report, metadata_hash
from lgsp.opendata.sample_source import SourceState, readings
from lgsp.opendata.validate import validate_rows
from registry.schedule import Cron, CronError, is_due


def test_spec_rejects_non_ascii_slug_and_bad_agency(spec: DatasetSpec) -> None:
    with pytest.raises(SpecError, match="slug"):
        dataclasses.replace(spec, slug="chất-lượng")
    with pytest.raises(SpecError, match="agency"):
        dataclasses.replace(spec, owner_agency_id="H10")
    with pytest.raises(SpecError, match="personal"):
        spec_from_dict({**dataclasses.asdict(spec), "table_schema": {"fields": [{"name": "x", "personal": "yes"}]}})


def test_source_url_follows_the_gateway_route(spec: DatasetSpec) -> None:
    assert spec.source_url("http://gw:8000/") == (
        "http://gw:8000/services/000.00.12.H10/QTMT/chat-luong-khong-khi/readings")


@pytest.mark.parametrize(("value", "pattern"), [
    ("092012345678", "cccd"), ("001099012345", "cccd"), ("0912345678", "phone"), ("+84 912 345 678", "phone"),
    ("84987654321", "phone"), ("an.nguyen@gmail.com", "email"),
])
def test_scan_finds_personal_values_in_undeclared_fields(spec: DatasetSpec, value: str, pattern: str) -> None:
    rows = [{"station_id": "CT-NK-01", "note": "ok"}, {"station_id": "CT-NK-02", "note": value}]
    [finding] = scan(spec, rows)
    assert (finding.field, finding.pattern, finding.rows) == ("note", pattern, [2])


@pytest.mark.parametrize("value", ["2026-11-01T00:00:00Z", "123456789012345", "97.5", "CT-NK-01", "92",
                                   "999012345678"])
def test_scan_ignores_values_that_are_not_personal(spec: DatasetSpec, value: str) -> None:
    assert scan(spec, [{"note": value}]) == []


def test_scan_is_not_fooled_by_equal_values_of_another_type(spec: DatasetSpec) -> None:
    """The scan tests distinct values per column; a float equal to an int phone number must not hide it."""
    rows = [{"note": 84912345678.0}, {"note": 84912345678}, {"note": 84912345678}]
    [finding] = scan(spec, rows)
    assert (finding.field, finding.pattern, finding.count, finding.rows) == ("note", "phone", 2, [2, 3])
    assert scan(spec, [{"note": {"a": 1}}, {"note": ["0912345678"]}]) == []  # unhashable cells are scanned too


def test_repeated_primary_keys_are_reported_by_row(spec: DatasetSpec) -> None:
    rows = readings(SourceState(rows=3))
    with pytest.raises(SchemaViolation) as exc:
        validate_rows(spec, [*rows, dict(rows[1])])
    [error] = [e for e in exc.value.report["errors"] if e["type"] == "primary-key"]
    assert error["row"] == 4 and "row 2" in error["message"]


def test_csv_spells_booleans_and_json_keeps_field_order() -> None:
    from lgsp.opendata.output import write_csv, write_json

    rows = [{"b": True, "a": None}, {"a": 1, "b": False}]
    assert write_csv(["a", "b"], rows) == b"a,b\n,true\n1,false\n"
    assert write_json(["a", "b"], rows) == b'[{"a":null,"b":true},{"a":1,"b":false}]'
    assert write_csv(["a"], [{"a": 2.5}]) == b"a\n2.5\n"


def test_declared_personal_fields_and_exempt_fields_are_not_scanned(spec: DatasetSpec) -> None:
    rows = readings(SourceState(rows=10))
    assert scan(spec, rows) == []  # operator_phone is declared personal: mask
    schema = {"fields": [*spec.table_schema["fields"], {"name": "code", "type": "string", "personalCheck": False}]}
    exempt = dataclasses.replace(spec, table_schema=schema)
    assert scan(exempt, [{"code": "092012345678"}]) == []
    with pytest.raises(PersonalDataBlocked) as blocked:
        ensure_no_personal_data(spec, [{"code": "092012345678"}])
    assert "092012345678" not in str(blocked.value) and blocked.value.report["findings"][0]["field"] == "code"


def test_deidentify_drops_masks_hashes_and_keeps_only_declared_fields(spec: DatasetSpec) -> None:
    fields = [*spec.table_schema["fields"], {"name": "citizen", "type": "string", "personal": "hash"}]
    hashed = dataclasses.replace(spec, table_schema={"fields": fields})
    row = {**readings(SourceState(rows=1))[0], "citizen": "092012345678", "undeclared": "x"}
    [clean] = deidentify(hashed, [row], b"key")
    assert "operator_name" not in clean and "undeclared" not in clean
    assert clean["operator_phone"] == "********78"
    assert clean["citizen"] != "092012345678" and len(clean["citizen"]) == 16
    [again] = deidentify(hashed, [row], b"key")
    assert again["citizen"] == clean["citizen"]  # stable pseudonym for the same key
    assert deidentify(hashed, [row], b"other")[0]["citizen"] != clean["citizen"]


def test_schema_report_lists_rows_and_fields(spec: DatasetSpec) -> None:
    rows = readings(SourceState(rows=60, mode="invalid"))
    rows[10]["aqi"] = 900
    del rows[20]["station_name"]
    rows[30] = {**rows[30], "station_id": rows[29]["station_id"], "measured_at": rows[29]["measured_at"]}
    with pytest.raises(SchemaViolation) as exc:
        validate_rows(spec, rows)
    found = {(e["row"], e["field"], e["type"]) for e in exc.value.report["errors"]}
    assert (4, "pm25", "type-error") in found and (54, "pm25", "type-error") in found
    assert (11, "aqi", "constraint-error") in found
    assert (21, "station_name", "constraint-error") in found
    assert (31, "station_id,measured_at", "primary-key") in found
    with pytest.raises(SchemaViolation, match="no rows"):
        validate_rows(spec, [])


def test_output_is_deterministic_and_hash_tracks_content(spec: DatasetSpec) -> None:
    rows = deidentify(spec, readings(SourceState(rows=20)), b"k")
    a = build_artifacts(spec.slug, spec.published_fields, rows)
    b = build_artifacts(spec.slug, spec.published_fields, [dict(r) for r in rows])
    assert [x.data for x in a] == [x.data for x in b] and content_hash(a) == content_hash(b)
    rows[0]["pm25"] = 1.0
    assert content_hash(build_artifacts(spec.slug, spec.published_fields, rows)) != content_hash(a)
    assert a[0].data.splitlines()[0].decode() == ",".join(spec.published_fields)


def test_metadata_hash_matches_ckan_view_and_detects_edits(spec: DatasetSpec) -> None:
    sent = dataset_metadata(spec)
    as_ckan_shows_it = {**sent, "owner_org": "9f1c-uuid", "organization": {"name": spec.organization},
                        "tags": [{"name": t, "id": "x"} for t in reversed(spec.tags)], "lgsp_managed": True,
                        "lgsp_metadata_hash": metadata_hash(sent)}
    assert hand_edit_report(as_ckan_shows_it) is None
    edited = {**as_ckan_shows_it, "notes": "sửa tay"}
    assert hand_edit_report(edited)["reason"].startswith("metadata changed")  # type: ignore[index]
    assert "not marked" in hand_edit_report({**as_ckan_shows_it, "lgsp_managed": False})["reason"]  # type: ignore[index]


def test_cron_schedule() -> None:
    hourly = Cron.parse("5 * * * *")
    assert hourly.next_run(datetime(2026, 11, 26, 9, 5, tzinfo=UTC)) == datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
    nightly = Cron.parse("0 2 * * 1-5")  # weekdays at 02:00
    assert nightly.next_run(datetime(2026, 11, 27, 3, 0, tzinfo=UTC)) == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert Cron.parse("*/15 * * * *").minutes == frozenset({0, 15, 30, 45})
    last = datetime(2026, 11, 26, 9, 6, tzinfo=UTC)
    assert not is_due("5 * * * *", last, datetime(2026, 11, 26, 10, 4, tzinfo=UTC))
    assert is_due("5 * * * *", last, datetime(2026, 11, 26, 10, 5, tzinfo=UTC))
    assert is_due("5 * * * *", None, last)
    for bad in ("* * *", "61 * * * *", "a * * * *"):
        with pytest.raises(CronError):
            Cron.parse(bad)


def test_source_fingerprint_is_the_digest_of_rules_then_body(spec: DatasetSpec) -> None:
    """Datasets published before store this digest as lgsp_source_hash: computing it another way must
    give the same hex, or every unchanged source would look changed once."""
    config = PipelineConfig("http://gw", CkanTarget("http://ckan", "t"), hash_key=b"k")
    body = b'{"data": [{"station_id": "CT-NK-01"}]}' * 1000
    rules = json.dumps({"schema": spec.table_schema, "fields": spec.published_fields,
                        "key": hashlib.sha256(b"k").hexdigest(), "v": 1}, sort_keys=True)
    assert source_fingerprint(spec, config, body) == hashlib.sha256(rules.encode() + b"\0" + body).hexdigest()
    assert source_fingerprint(spec, config, body + b" ") != source_fingerprint(spec, config, body)
