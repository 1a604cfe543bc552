"""One demo-like stack per session for the interface tests (fuzzer, doc examples, generated client)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.demo_stack import DemoStack, demo_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    with demo_stack(tmp_path_factory.mktemp("iface-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """The fuzzer's own stack: it deletes registry entries and rotates secrets, so nobody else shares it.
    Its wrong secrets would trip the /oauth/token failure throttle (tested in tests/security): raised here."""
    with demo_stack(tmp_path_factory.mktemp("iface-fuzz"), token_failure_limit=10**9) as running:
        yield running
