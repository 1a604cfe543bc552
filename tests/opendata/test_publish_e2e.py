"""lgsp -> CKAN end to end: publish the sample department's air-quality readings to the served CKAN,
then read them back as a developer would (ckanapi, downloads, DCAT)."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json

from lgsp.opendata import DatasetSpec, PipelineConfig, run_dataset
from lgsp.opendata.sample_source import SourceState
from lgsp.testing.servers import RunningServer

from .ckan_client import count_named, download, remote, show
from .conftest import Ckan


async def test_publish_creates_dataset_with_resources_and_provenance(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig) -> None:
    result = await run_dataset(spec, config, run_id="run-e2e-1")
    assert result.status == "created", result.message
    assert result.rows == 240

    dataset = show(ckan.url, spec.slug)  # anonymous ckanapi client
    assert dataset["title"] == "Chất lượng không khí thành phố Cần Thơ"
    assert dataset["name"] == spec.slug and dataset["agency_code"] == "000.00.12.H10"
    assert dataset["organization"]["name"] == "so-tnmt-can-tho"
    assert sorted(r["name"] for r in dataset["resources"]) == [f"{spec.slug}.csv", f"{spec.slug}.json"]

    provenance = remote(ckan.url).action.lgsp_provenance_show(id=spec.slug)
    assert provenance["managed"] is True
    assert provenance["run_id"] == "run-e2e-1"
    assert provenance["row_count"] == 240
    assert provenance["content_hash"] == result.content_hash
    assert provenance["source_service"] == spec.source_service

    for resource in provenance["resources"]:
        body = download(resource["url"])
        assert hashlib.sha256(body).hexdigest() == resource["sha256"], resource["name"]
        if resource["format"] == "CSV":
            rows = list(csv.DictReader(io.StringIO(body.decode())))
            assert len(rows) == 240
            assert "operator_name" not in rows[0]  # personal: drop
            assert rows[0]["operator_phone"].startswith("****") and rows[0]["operator_phone"][-2:].isdigit()
            assert rows[0]["station_id"] == "CT-NK-01"
        else:
            records = json.loads(body)
            assert len(records) == 240 and "operator_name" not in records[0]


async def test_unchanged_data_makes_no_new_version_and_changed_data_updates_in_place(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig,
        source: tuple[RunningServer, SourceState]) -> None:
    first = await run_dataset(spec, config)
    before = show(ckan.url, spec.slug)
    activities = len(remote(ckan.admin).action.package_activity_list(id=spec.slug))

    again = await run_dataset(spec, config)
    assert again.status == "unchanged" and again.api_calls == 1  # one package_show, no writes
    assert "validate" not in again.timings  # same source bytes + same rules: stopped early
    after = show(ckan.url, spec.slug)
    assert after["metadata_modified"] == before["metadata_modified"]
    assert len(remote(ckan.admin).action.package_activity_list(id=spec.slug)) == activities

    stricter = dataclasses.replace(spec, table_schema={**spec.table_schema, "fields": [
        {**f, "personal": "drop"} if f["name"] == "operator_phone" else f for f in spec.table_schema["fields"]]})
    rules_changed = await run_dataset(stricter, config)  # same source bytes, new curation rules
    assert rules_changed.status == "updated" and rules_changed.content_hash != first.content_hash
    assert b"operator_phone" not in download(show(ckan.url, spec.slug)["resources"][0]["url"])

    source[1].version = 2  # the department's readings change
    changed = await run_dataset(spec, config)
    assert changed.status == "updated" and changed.content_hash != first.content_hash
    updated = show(ckan.url, spec.slug)
    assert [r["id"] for r in updated["resources"]] == [r["id"] for r in before["resources"]]
    assert updated["lgsp_content_hash"] == changed.content_hash
    assert count_named(ckan.url, spec.slug, ckan.admin) == 1


async def test_dataset_is_findable_by_search_facets_and_dcat(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig) -> None:
    assert (await run_dataset(spec, config)).ok
    ck = remote(ckan.url)
    found = ck.action.package_search(q="khong khi can tho", fq=f'name:"{spec.slug}"')
    assert found["count"] == 1
    faceted = ck.action.package_search(fq="organization:so-tnmt-can-tho", **{"facet.field": ["tags"]})
    assert spec.slug in [d["name"] for d in faceted["results"]] or faceted["count"] > 10
    assert faceted["search_facets"]["tags"]["items"]

    text = download(f"{ckan.url}/dataset/{spec.slug}.ttl").decode()  # raises unless 200
    assert "frequency/HOURLY" in text and "topic/moi-truong" in text and '"000.00.12.H10"' in text
    assert "prov:wasGeneratedBy" in text


async def test_csv_source_publishes_the_same_content_as_json(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig) -> None:
    json_run = await run_dataset(spec, config)
    csv_spec = dataclasses.replace(spec, slug=spec.slug + "-csv", source_format="csv",
                                   source_path="readings.csv", records_key=None)
    csv_run = await run_dataset(csv_spec, config)
    assert csv_run.status == "created", csv_run.message
    csv_body = download(next(r["url"] for r in show(ckan.url, csv_spec.slug)["resources"]
                             if r["format"] == "CSV"))
    json_body = download(next(r["url"] for r in show(ckan.url, spec.slug)["resources"] if r["format"] == "CSV"))
    assert csv_body == json_body and csv_run.rows == json_run.rows


async def test_dataset_page_shows_provenance_in_vietnamese_and_english(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig) -> None:
    result = await run_dataset(spec, config)
    page_vi = download(f"{ckan.url}/dataset/{spec.slug}").decode()
    assert 'id="lgsp-provenance"' in page_vi and "Nguồn gốc dữ liệu" in page_vi
    assert str(result.content_hash) in page_vi and spec.source_service in page_vi
    page_en = download(f"{ckan.url}/en/dataset/{spec.slug}").decode()
    assert "Provenance" in page_en and "Do not edit by hand" in page_en
