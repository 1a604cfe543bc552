"""A real NGSP simulator on 127.0.0.1 for the adapter tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.ngsp.simulator import create_simulator_app
from lgsp.testing.servers import RunningServer, serve_in_thread


@pytest.fixture(scope="session")
def ngsp_sim() -> Iterator[RunningServer]:
    with serve_in_thread(create_simulator_app()) as server:
        yield server
