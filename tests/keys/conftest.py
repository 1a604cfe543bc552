"""Key stores for the tests: the encrypted one on a fresh KEK, and SoftHSM2 through PKCS#11.

The token is the repo's own (``scripts/ensure-softhsm.sh``, which scripts/test.sh also runs): this
initialises it if needed and hands the module path, token label and PIN over through settings.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lgsp.settings import Settings
from lgsp.testing.postgres import services_required

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="session")
def softhsm() -> dict[str, str]:
    result = subprocess.run([str(ROOT / "scripts" / "ensure-softhsm.sh"), "--env"], capture_output=True, text=True,
                            timeout=600)
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    if result.returncode != 0 or not env.get("LGSP_TEST_PKCS11_MODULE"):
        reason = f"SoftHSM2 not available: {result.stderr.strip()[-300:]}"
        if services_required():
            pytest.fail(reason)
        pytest.skip(reason)
    os.environ["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]  # read by libsofthsm2 when it is loaded
    return env


@pytest.fixture(params=["encrypted", "pkcs11"])
def key_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    values = {"key_backend": str(request.param), "key_kek_file": str(tmp_path / "kek.key"),
              "audit_log_key_file": str(tmp_path / "audit-log.key"),
              "database_url": f"sqlite:///{tmp_path / 'lgsp.db'}"}
    if request.param == "pkcs11":
        hsm = request.getfixturevalue("softhsm")
        values.update(pkcs11_module=hsm["LGSP_TEST_PKCS11_MODULE"], pkcs11_token_label=hsm["LGSP_TEST_PKCS11_TOKEN"],
                      pkcs11_pin=hsm["LGSP_TEST_PKCS11_PIN"])
    yield Settings.load(**values)
