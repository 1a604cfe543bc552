"""The first README command's program: `lgsp demo` runs its whole tour and stops everything it started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.timeout(360)  # the whole tour as a subprocess (its own 300 s bound); the suite's 120 s is per unit test
def test_demo_tour_runs_end_to_end(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("LGSP_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "lgsp.cli", "demo", "--no-keep-serving", "--port", "0"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "200 allowed: look up a birth record" in out
    assert "403 denied: POST is not granted" in out
    assert "404 unknown service" in out and "401 no token" in out
    assert '"KetQuaXacThuc": true' in out  # the REST call mediated to the NGSP SOAP simulator
    assert "202 {\"message_id\"" in out and "TraCuuHoSo on the portal now says: [{\"MaHoSo\"" in out
    assert "statuses [('000.00.00.G22', '03')]" in out  # edXML out through the axis, status packet back
    assert "lgsp audit verify: OK" in out and "signed tree head (Ed25519): size" in out
    assert "demo stopped" in out
    assert (tmp_path / "var" / "demo" / "lgsp.db").exists()
