"""Bad input and faults, each against the served CKAN: the run fails visibly, the portal keeps the
last good version, nothing personal leaks, retries converge without duplicates, hand edits are kept."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from ckanapi.errors import NotAuthorized, NotFound

from lgsp.opendata import DatasetSpec, PipelineConfig, run_dataset
from lgsp.opendata.sample_source import SourceState
from lgsp.testing.servers import RunningServer, start_server

from .ckan_client import count_named, download, remote, show
from .conftest import Ckan
from .faulty_proxy import Fault, ProxyState, create_proxy


async def test_source_down_fails_visibly_and_portal_keeps_last_good_version(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig,
        source: tuple[RunningServer, SourceState]) -> None:
    good = await run_dataset(spec, config)
    before = show(ckan.url, spec.slug)

    source[1].mode = "down"  # HTTP 503 from the department
    failed = await run_dataset(spec, config)
    assert failed.status == "source_failed" and "503" in failed.message
    assert failed.report["step"] == "fetch"

    source[0].stop()  # and then nothing listening at all
    refused = await run_dataset(spec, config)
    assert refused.status == "source_failed" and "unreachable" in refused.message

    after = show(ckan.url, spec.slug)
    assert after["metadata_modified"] == before["metadata_modified"]
    assert after["lgsp_content_hash"] == good.content_hash


@pytest.mark.parametrize("body", [
    b'{"data": [{"station_id": "CT01", "aqi": 1' + b"0" * 5000 + b'}]}',  # past the int-string limit
    b'{"data": [{"station_id": "CT01", "station_name": "\\ud800"}]}',  # a lone surrogate: no UTF-8 form
    b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # nesting json.loads cannot follow
])
async def test_a_body_that_cannot_be_read_or_published_is_a_source_failure(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig,
        source: tuple[RunningServer, SourceState], body: bytes) -> None:
    """Valid-looking JSON that Python cannot turn into publishable rows ends the run as source_failed at
    the fetch step (it used to raise out of run_dataset), and the portal keeps the last good version."""
    good = await run_dataset(spec, config)
    before = show(ckan.url, spec.slug)
    source[1].body = body
    failed = await run_dataset(spec, config)
    assert failed.status == "source_failed" and "unreadable body" in failed.message, failed.message
    assert failed.report["step"] == "fetch"
    after = show(ckan.url, spec.slug)
    assert after["metadata_modified"] == before["metadata_modified"]
    assert after["lgsp_content_hash"] == good.content_hash


async def test_schema_failure_publishes_nothing_and_reports_rows_and_fields(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig,
        source: tuple[RunningServer, SourceState]) -> None:
    source[1].mode = "invalid"
    result = await run_dataset(spec, config)
    assert result.status == "invalid"
    errors = result.report["errors"]
    assert {(e["row"], e["field"]) for e in errors} == {(4, "pm25"), (54, "pm25"), (104, "pm25"),
                                                        (154, "pm25"), (204, "pm25")}
    assert all(e["type"] == "type-error" for e in errors)
    with pytest.raises(NotFound):
        remote(ckan.url).action.package_show(id=spec.slug)


async def test_undeclared_personal_field_is_blocked_and_reported(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig,
        source: tuple[RunningServer, SourceState]) -> None:
    await run_dataset(spec, config)
    published = show(ckan.url, spec.slug)
    source[1].mode = "leak"  # the department added citizens' ID numbers in a new column
    source[1].version = 3
    result = await run_dataset(spec, config)
    assert result.status == "blocked"
    [finding] = result.report["findings"]
    assert finding["field"] == "nguoi_bao_cao" and finding["pattern"] == "cccd"
    assert finding["declared_in_schema"] is False and finding["count"] == 240
    assert finding["rows"][:3] == [1, 2, 3]
    assert "0920" not in result.message  # values are never echoed into reports
    still = show(ckan.url, spec.slug)
    assert still["lgsp_content_hash"] == published["lgsp_content_hash"]
    for resource in still["resources"]:
        assert b"nguoi_bao_cao" not in download(resource["url"])


@pytest.fixture()
def proxy(ckan: Ckan) -> Iterator[tuple[str, ProxyState]]:
    state = ProxyState()
    server = start_server(create_proxy(ckan.url, state))
    try:
        yield server.url, state
    finally:
        server.stop()


@pytest.mark.parametrize("faults", [
    [Fault("resource_create", "before", times=1)],  # CKAN down half-way through the uploads
    [Fault("package_create", "after")],  # created, but the client saw a 500
    [Fault("resource_create", "after", times=2), Fault("package_patch", "before")],
])
async def test_ckan_500_half_way_then_next_run_converges_without_duplicates(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig, proxy: tuple[str, ProxyState],
        faults: list[Fault]) -> None:
    proxy_url, state = proxy
    state.faults = faults
    via_proxy = dataclasses.replace(config, ckan=dataclasses.replace(config.ckan, url=proxy_url))
    attempts = []
    for _ in range(5):  # what the scheduler would do: run again until it lands
        attempts.append(await run_dataset(spec, via_proxy))
        if attempts[-1].ok:
            break
    assert attempts[0].status == "publish_failed" and "500" in attempts[0].message
    assert all(a.status == "publish_failed" for a in attempts[:-1])
    second = attempts[-1]
    assert second.status in {"created", "updated"}, second.message
    assert all(f.times == 0 for f in faults)  # every injected failure actually happened
    third = await run_dataset(spec, via_proxy)
    assert third.status == "unchanged"

    dataset = show(ckan.url, spec.slug)
    assert count_named(ckan.url, spec.slug, ckan.admin) == 1
    assert sorted(r["name"] for r in dataset["resources"]) == [f"{spec.slug}.csv", f"{spec.slug}.json"]
    assert dataset["lgsp_content_hash"] == second.content_hash


async def test_hand_edited_dataset_is_flagged_not_overwritten_unless_forced(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig,
        source: tuple[RunningServer, SourceState]) -> None:
    await run_dataset(spec, config)
    # Someone signs in to the portal with the publisher account and retitles the dataset by hand.
    remote(ckan.publisher).action.package_patch(id=spec.slug, title="Sửa tay")
    source[1].version = 4

    flagged = await run_dataset(spec, config)
    assert flagged.status == "hand_edited"
    assert "edited outside lgsp" in flagged.message and flagged.report["reason"].startswith("metadata")
    assert show(ckan.url, spec.slug)["title"] == "Sửa tay"

    forced = await run_dataset(spec, config, force=True)
    assert forced.status == "updated" and forced.report["overwrote_hand_edit"]
    assert show(ckan.url, spec.slug)["title"] == spec.title_vi
    assert (await run_dataset(spec, config)).status == "unchanged"


async def test_only_the_publisher_may_change_a_managed_dataset(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig) -> None:
    await run_dataset(spec, config)
    admin = remote(ckan.admin)  # a sysadmin, but not lgsp's publisher
    with pytest.raises(NotAuthorized):
        admin.action.package_patch(id=spec.slug, title="not allowed")
    resource_id = show(ckan.url, spec.slug)["resources"][0]["id"]
    with pytest.raises(NotAuthorized):
        admin.action.resource_delete(id=resource_id)
    with pytest.raises(NotAuthorized):
        admin.action.package_delete(id=spec.slug)
    assert show(ckan.url, spec.slug)["title"] == spec.title_vi


async def test_a_dataset_created_by_hand_under_the_slug_is_not_taken_over(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig) -> None:
    await run_dataset(dataclasses.replace(spec, slug=spec.slug + "-seed"), config)  # makes the org
    remote(ckan.admin).action.package_create(
        name=spec.slug, title="Made by hand", notes="x", owner_org=spec.organization,
        agency_code=spec.owner_agency_id, topic="moi-truong", license_id="cc-by", frequency="daily")
    result = await run_dataset(spec, config)
    assert result.status == "hand_edited" and "not marked as managed" in result.message
    assert show(ckan.url, spec.slug)["title"] == "Made by hand"


async def test_ckan_is_read_while_the_source_is_fetched_and_written_only_after_the_checks(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig, proxy: tuple[str, ProxyState],
        source: tuple[RunningServer, SourceState]) -> None:
    """The calls each kind of run makes, in order (seen by the proxy): a new dataset's organisation is
    looked up with the dataset, before the checks; a run whose rows fail them writes nothing; an
    existing dataset is never asked about its organisation."""
    proxy_url, state = proxy
    via_proxy = dataclasses.replace(config, ckan=dataclasses.replace(config.ckan, url=proxy_url))
    source[1].mode = "invalid"
    assert (await run_dataset(spec, via_proxy)).status == "invalid"
    assert state.seen == ["package_show", "organization_show"]  # reads only

    state.seen.clear()
    source[1].mode = "ok"
    created = await run_dataset(spec, via_proxy)
    assert created.status == "created" and created.api_calls == len(state.seen)
    assert [a for a in state.seen if a != "package_resource_reorder"] == [
        "package_show", "organization_show", "package_create", "resource_create", "resource_create",
        "package_patch"]

    state.seen.clear()
    source[1].version += 1
    updated = await run_dataset(spec, via_proxy)
    assert updated.status == "updated"
    assert state.seen == ["package_show", "resource_update", "resource_update", "package_patch"]
