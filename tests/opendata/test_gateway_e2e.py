"""Through lgsp's real gateway: the publisher is a registered OAuth2 client, reads the department's
service via /services/..., and the gateway's audit index lands in the dataset's provenance."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from lgsp.app import create_app
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
def gateway(tmp_path: Path, source: tuple[RunningServer, SourceState]) -> Iterator[tuple[str, str, str]]:
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
        yield server.url, credential.client_id, credential.client_secret
    finally:
        server.stop()
        app.runtime.engine.dispose()


async def test_publish_through_the_gateway_records_the_audit_index(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig, gateway: tuple[str, str, str]) -> None:
    url, client_id, secret = gateway
    via_gateway = dataclasses.replace(config, gateway_url=url, source_token=None, source_client=(client_id, secret))
    result = await run_dataset(spec, via_gateway)
    assert result.status == "created", result.message
    provenance = remote(ckan.url).action.lgsp_provenance_show(id=spec.slug)
    assert provenance["audit_index"] not in (None, "") and provenance["audit_index"].isdigit()

    wrong = dataclasses.replace(via_gateway, source_client=(client_id, "not-the-secret"))
    refused = await run_dataset(spec, wrong)
    assert refused.status == "source_failed" and "refused a token" in refused.message
