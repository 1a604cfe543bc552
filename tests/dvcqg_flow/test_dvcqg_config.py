"""DVCQG configuration from LGSP_DVCQG_* and how the worker picks the dossier handler up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from structlog.testing import capture_logs

from adapters.dvcqg import StatusMappingError
from adapters.dvcqg import delivery as dvcqg
from lgsp.adapters import get
from lgsp.delivery.handlers import load_handlers
from tests.dvcqg_flow.conftest import MAPPING_FILE

BASE = {"LGSP_DVCQG_ADAPTER_URL": "http://127.0.0.1:9/api", "LGSP_DVCQG_USERNAME": "u",
        "LGSP_DVCQG_PASSWORD": "p", "LGSP_DVCQG_MADONVI": "000.00.12.H10"}


def test_config_from_env(tmp_path: Path) -> None:
    assert dvcqg.DvcqgConfig.from_env({}) is None  # not configured: no handler, ingest answers 503
    config = dvcqg.DvcqgConfig.from_env(BASE | {"LGSP_DVCQG_STATUS_MAPPING": str(MAPPING_FILE),
                                                "LGSP_DVCQG_SESSION_EXPIRED_CODES": "02,98"})
    assert config is not None and config.mapping.to_dvcqg("processing", "waiting_fee") == 6
    assert config.settings.session_expired_codes == {"02", "98"}
    with pytest.raises(ValueError, match="LGSP_DVCQG_STATUS_MAPPING"):
        dvcqg.DvcqgConfig.from_env(BASE)
    with pytest.raises(ValueError, match="LGSP_DVCQG_PASSWORD"):
        dvcqg.DvcqgConfig.from_env({k: v for k, v in BASE.items() if "PASSWORD" not in k}
                                   | {"LGSP_DVCQG_STATUS_MAPPING": str(MAPPING_FILE)})
    bad = tmp_path / "mapping.yaml"
    bad.write_text("statuses:\n  new: 11\n", encoding="utf-8")
    with pytest.raises(StatusMappingError, match="new"):
        dvcqg.DvcqgConfig.from_env(BASE | {"LGSP_DVCQG_STATUS_MAPPING": str(bad)})


async def test_worker_handlers_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine("sqlite://")
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LGSP_DVCQG_STATUS_MAPPING", str(MAPPING_FILE))
    handlers = load_handlers(engine)
    assert {"http", dvcqg.KIND} <= set(handlers)
    await handlers.aclose()
    monkeypatch.delenv("LGSP_DVCQG_STATUS_MAPPING")  # half-configured: dossier deliveries wait, http still runs
    handlers = load_handlers(engine)
    assert "http" in handlers and dvcqg.KIND not in handlers
    await handlers.aclose()


async def test_the_adapter_declares_its_handlers_and_says_when_they_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The core finds the dossier handler through AdapterInfo only; the factory alone reads LGSP_DVCQG_*."""
    assert get("dvcqg").delivery_handlers == "adapters.dvcqg.delivery:delivery_handlers"
    engine = create_engine("sqlite://")
    for name in [n for n in os.environ if n.startswith("LGSP_DVCQG_")]:
        monkeypatch.delenv(name)
    with capture_logs() as logs:
        assert dvcqg.delivery_handlers(engine) == {}  # not configured: nothing, and nothing to say
    assert logs == []
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    with capture_logs() as logs:
        assert dvcqg.delivery_handlers(engine) == {}  # half-configured: nothing, loudly
    assert [(e["log_level"], "LGSP_DVCQG_STATUS_MAPPING" in e["error"]) for e in logs] == [("error", True)]
    monkeypatch.setenv("LGSP_DVCQG_STATUS_MAPPING", str(MAPPING_FILE))
    handlers = dvcqg.delivery_handlers(engine)
    assert list(handlers) == [dvcqg.KIND]
    await handlers[dvcqg.KIND].aclose()
