"""Issue 18 start-up: a store at head is recognised without Alembic; the app starts without what it needs later.

Timing is in bench/startup.py; these tests pin the behaviour the figures rest on (which modules a fresh
process loads, and that the cheap migration check agrees with Alembic).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from lgsp.store import migrate
from lgsp.store.db import make_engine


def _fresh(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "LGSP_CONFIG": "", "LGSP_TRUST_PATHS": ""})
    return dict(json.loads(done.stdout.decode().strip().splitlines()[-1]))


def test_declared_head_is_alembics_head() -> None:
    # the integrator re-chains down_revision values: the file reading must keep agreeing with Alembic
    assert migrate.declared_head() == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def test_a_store_at_head_is_checked_and_upgraded_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lgsp.db'}"
    engine = make_engine(url)
    assert not migrate.is_current(engine)  # no version table yet
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    engine.dispose()
    seen = _fresh(f"""
import json, sys
from lgsp.store.db import make_engine
from lgsp.store.migrate import is_current, upgrade
engine = make_engine({url!r})
upgrade(engine)
print(json.dumps({{"current": is_current(engine), "alembic": "alembic" in sys.modules}}))
""")
    assert seen == {"current": True, "alembic": False}


def test_a_store_behind_head_is_still_migrated_by_alembic(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'lgsp.db'}")
    migrate.upgrade(engine, "0001")
    assert not migrate.is_current(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.declared_head()
    assert migrate.is_current(engine)


def test_the_app_starts_without_soap_mediation_the_console_or_alembic(tmp_path: Path) -> None:
    migrate.upgrade(make_engine(f"sqlite:///{tmp_path / 'lgsp.db'}"))  # a restart: the store is at head
    seen = _fresh(f"""
import json, sys
from lgsp.app import create_app
from lgsp.settings import Settings
app = create_app(Settings.load(database_url="sqlite:///{tmp_path / 'lgsp.db'}", access_log=False,
                               audit_log_key_file="{tmp_path / 'log-key.pem'}", key_kek_file="{tmp_path / 'kek'}"))
heavy = sorted(m for m in ("zeep", "xmlschema", "jinja2", "alembic", "lgsp.console.app") if m in sys.modules)
print(json.dumps({{"heavy": heavy}}))
""")
    assert seen == {"heavy": []}


def test_the_console_answers_its_first_request_through_the_lazy_mount(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from lgsp.app import create_app
    from lgsp.settings import Settings

    app = create_app(Settings.load(database_url=f"sqlite:///{tmp_path / 'lgsp.db'}", access_log=False,
                                   audit_log_key_file=str(tmp_path / "log-key.pem"),
                                   key_kek_file=str(tmp_path / "kek")))
    with TestClient(app.api) as client:
        home = client.get("/console/", follow_redirects=False)
        assert home.status_code == 303  # not logged in: url_for("login_form") resolved through the mount
        assert home.headers["location"].endswith("/console/login")
        assert client.get("/console/login").status_code == 200
        assert client.get("/console/static/console.css").status_code == 200
