"""Issue 12 §9: start-up stays light — which modules a command imports (timing itself is in bench/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["pyhanko", "signxml", "joserfc", "sqlalchemy", "alembic", "aiohttp", "fastapi"]

PROBE = """
import json, sys
sys.argv = {argv!r}
from lgsp.cli.main import app
try:
    app()
except SystemExit:
    pass
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))
"""


def _loaded(argv: list[str]) -> set[str]:
    """Top-level packages imported by one fresh `lgsp ...` process."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, check=True,
                          env={"PATH": "/usr/bin:/bin", "LGSP_TRUST_PATHS": "", "LGSP_CONFIG": ""})
    return set(json.loads(done.stdout.decode().strip().splitlines()[-1]))


def test_lgsp_help_imports_no_heavy_library() -> None:
    loaded = _loaded(["lgsp", "--help"])
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_verify_of_an_xml_file_does_not_import_pdf_jws_or_store_libraries(tmp_path, pki) -> None:
    from signing.testing import edxml_document, sign_xml

    (tmp_path / "a.xml").write_bytes(sign_xml(edxml_document(), pki.good))
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    loaded = _loaded(["lgsp", "verify", str(tmp_path / "a.xml"), "--trust", str(tmp_path / "root.pem")])
    assert {"signxml", "pyhanko_certvalidator"} <= loaded  # it did verify
    assert not loaded & {"pyhanko", "joserfc", "sqlalchemy", "alembic", "aiohttp", "fastapi"}, loaded
