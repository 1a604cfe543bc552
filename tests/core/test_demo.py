"""The first README command's program: `lgsp demo` runs its whole tour and stops everything it started."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.rawhttp import HEAD_TIMEOUT, probe_served_like_lgsp_serve


@pytest.mark.timeout(360)  # the whole tour as a subprocess (its own 300 s bound); the suite's 120 s is per unit test
def test_demo_tour_runs_end_to_end(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "LGSP_HEADER_TIMEOUT_SECONDS": str(HEAD_TIMEOUT)}
    env.pop("LGSP_DATABASE_URL", None)
    with (tmp_path / "stderr.txt").open("w+") as stderr:
        demo = subprocess.Popen([sys.executable, "-m", "lgsp.cli", "demo", "--no-keep-serving", "--port", "0"],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        assert demo.stdout is not None
        lines, found = [], None
        try:
            for line in demo.stdout:  # the gateway stays up for the whole tour: probe it while it runs
                lines.append(line)
                found = re.search(r"gateway listening on (http://127\.0\.0\.1:\d+)", line)
                if found:
                    probe_served_like_lgsp_serve(found.group(1))
                    break
            lines.append(demo.stdout.read())
            returncode = demo.wait(300)
        finally:
            if demo.poll() is None:  # a failed probe: stop the tour (and the CKAN it started) cleanly
                demo.terminate()
                demo.wait(120)
        stderr.seek(0)
        out = "".join(lines)
        assert found, out
        assert returncode == 0, out + stderr.read()
    assert "200 allowed: look up a birth record" in out
    assert "403 denied: POST is not granted" in out
    assert "404 unknown service" in out and "401 no token" in out
    assert '"KetQuaXacThuc": true' in out  # the REST call mediated to the NGSP SOAP simulator
    assert "202 {\"message_id\"" in out and "TraCuuHoSo on the portal now says: [{\"MaHoSo\"" in out
    assert "statuses [('000.00.00.G22', '03')]" in out  # edXML out through the axis, status packet back
    assert "lgsp audit verify: OK" in out and "signed tree head (Ed25519): size" in out
    assert "demo stopped" in out
    assert (tmp_path / "var" / "demo" / "lgsp.db").exists()
