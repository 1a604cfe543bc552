"""`lgsp usage` with a wrong traffic setting prints one error line and exits 2.

Before: LGSP_TRAFFIC_BACKEND=bogus, LGSP_TRAFFIC_BACKEND=redis without LGSP_REDIS_URL, or a LGSP_REDIS_URL
that is not a Redis URL ended the command with a Python traceback (ValueError from build_backend/redis-py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = {
    "unknown backend": {"LGSP_TRAFFIC_BACKEND": "bogus"},
    "redis without a URL": {"LGSP_TRAFFIC_BACKEND": "redis", "LGSP_REDIS_URL": ""},
    "not a Redis URL": {"LGSP_TRAFFIC_BACKEND": "auto", "LGSP_REDIS_URL": "127.0.0.1:6379"},
}


@pytest.mark.parametrize("env", CASES.values(), ids=CASES.keys())
def test_a_wrong_traffic_setting_is_one_error_line(env: dict[str, str], tmp_path: Path) -> None:
    run_env = {**os.environ, "LGSP_DATABASE_URL": f"sqlite:///{tmp_path / 'lgsp.db'}", **env}
    done = subprocess.run([str(Path(sys.executable).parent / "lgsp"), "usage"], env=run_env, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "error:" in done.stderr
