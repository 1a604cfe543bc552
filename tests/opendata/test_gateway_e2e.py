"""Through lgsp's real gateway: the publisher is a registered OAuth2 client, reads the department's
service via /services/..., and the run is audited in the gateway's own log: the dataset's provenance
names the run's entry, which names the gateway exchange the data was read in."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lgsp.app import create_app
from lgsp.audit.models import AuditEntry
from lgsp.auth.clients import create_client
from lgsp.opendata import DatasetSpec, PipelineConfig, run_dataset
from lgsp.opendata.sample_source import SERVICE_ID, SourceState
from lgsp.settings import Settings
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file

from .ckan_client import remote
from .conftest import Ckan

AGENCY = "000.00.12.H10"
PUBLISHER_SYSTEM = f"{AGENCY}/OPENDATA"


@pytest.fixture()
def gateway(tmp_path: Path, source: tuple[RunningServer, SourceState]) -> Iterator[tuple[str, str, str, Engine]]:
    source[1].token = None  # the department trusts the gateway, which authenticates the caller
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp_path / 'lgsp.db'}", access_log=False))
    apply(app.runtime.engine, parse_registry_file(f"""
agencies:
  - {{code: {AGENCY}, name: Sở Tài nguyên và Môi trường thành phố Cần Thơ}}
systems:
  - {{id: {PUBLISHER_SYSTEM}, name: lgsp open-data publisher}}
  - {{id: {AGENCY}/QTMT, name: Quan trắc môi trường, client: false, provider: true}}
services:
  - {{id: {SERVICE_ID}, name: Chất lượng không khí, base_url: "{source[0].url}/services/{SERVICE_ID}"}}
grants:
  - {{client: {PUBLISHER_SYSTEM}, service: {SERVICE_ID}, methods: [GET]}}
"""))
    credential = create_client(app.runtime.engine, PUBLISHER_SYSTEM, ["gateway"])
    app.runtime.registry_changed()
    server = start_server(app)
    try:
        yield server.url, credential.client_id, credential.client_secret, app.runtime.engine
    finally:
        server.stop()
        app.runtime.engine.dispose()


def entry(engine: Engine, index: int) -> AuditEntry:
    with Session(engine) as session:
        found = session.get(AuditEntry, index)
    assert found is not None
    return found


async def test_publish_through_the_gateway_records_the_audit_index(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig, gateway: tuple[str, str, str, Engine]) -> None:
    url, client_id, secret, engine = gateway
    via_gateway = dataclasses.replace(config, gateway_url=url, source_token=None, source_client=(client_id, secret))
    result = await run_dataset(spec, via_gateway, audit=engine)
    assert result.status == "created", result.message
    provenance = remote(ckan.url).action.lgsp_provenance_show(id=spec.slug)
    assert result.audit_index is not None and provenance["audit_index"] == result.audit_index

    run = entry(engine, result.audit_index)  # the run: who, what, how many rows, which bytes
    assert (run.method, run.client, run.service, run.status) == ("PUBLISH", PUBLISHER_SYSTEM, SERVICE_ID, 201)
    assert run.extra["run_id"] == provenance["run_id"] and run.extra["rows"] == 240
    assert run.response_sha256 == run.extra["content_hash"] == provenance["content_hash"]
    read = entry(engine, run.extra["source_audit_index"])  # ... and the gateway exchange it read
    assert (read.method, read.client, read.service, read.status) == ("GET", PUBLISHER_SYSTEM, SERVICE_ID, 200)
    assert read.message_id == run.correlation_id and read.idx < run.idx

    wrong = dataclasses.replace(via_gateway, source_client=(client_id, "not-the-secret"))
    refused = await run_dataset(spec, wrong, audit=engine)
    assert refused.status == "source_failed" and "refused a token" in refused.message
    assert entry(engine, refused.audit_index or -1).problem_type == "https://lgsp.dev/problems/opendata-source-failed"
    assert remote(ckan.url).action.lgsp_provenance_show(id=spec.slug)["audit_index"] == result.audit_index
