"""``python -m adapters.vdxp.simulator --port N --config FILE`` serves the axis (the demo starts it so)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from vdxp_factories import sample_document
from vdxp_support import simulator_config

from adapters.vdxp.client import AxisClient
from adapters.vdxp.edxml import write_document
from adapters.vdxp.simulator import main
from adapters.vdxp.simulator_config import SimulatorConfig
from lgsp.testing.servers import bind_socket

ROOT = Path(__file__).resolve().parents[2]


def test_standalone_simulator(tmp_path: Path) -> None:
    secret = secrets.token_hex(16)
    config_file = tmp_path / "sim.yaml"
    config_file.write_text(yaml.safe_dump(simulator_config(secret, secrets.token_hex(16), "adm")), encoding="utf-8")
    sock = bind_socket()
    port = sock.getsockname()[1]
    sock.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.vdxp.simulator", "--port", str(port), "--config", str(config_file)], cwd=ROOT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/_admin/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "simulator did not start"
            time.sleep(0.1)

        async def send() -> str:
            async with AxisClient(url, "lgsp-cantho", secret) as client:
                return await client.send_edoc(write_document(sample_document()))

        assert asyncio.run(send())
    finally:
        process.terminate()
        process.wait(10)


def test_config_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one system"):
        SimulatorConfig.from_mapping({"systems": []})
    with pytest.raises(ValueError, match="unknown fault settings: typo"):
        SimulatorConfig.from_mapping({"systems": [{"system_id": "a", "secret": "b"}], "faults": {"typo": 1}})
    with pytest.raises(ValueError, match="non-empty system_id and secret"):
        SimulatorConfig.from_mapping({"systems": [{"system_id": "a", "secret": ""}]})
    path = tmp_path / "c.json"
    path.write_text('{"systems": [{"system_id": "a", "secret": "b"}], "faults": {"error_rate": 0.2}}')
    assert SimulatorConfig.load(path).faults.error_rate == 0.2


def test_init_config_writes_generated_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sim.yaml"
    main(["--config", str(path), "--init-config"])
    assert path.stat().st_mode & 0o777 == 0o600
    first = SimulatorConfig.load(path)
    assert len(first.systems) == 2 and all(len(s.secret) == 64 for s in first.systems)
    with pytest.raises(SystemExit):
        main(["--config", str(path), "--init-config"])
    assert "refusing to overwrite" in capsys.readouterr().err
    other = tmp_path / "other.yaml"
    main(["--config", str(other), "--init-config"])
    assert SimulatorConfig.load(other).systems[0].secret != first.systems[0].secret
