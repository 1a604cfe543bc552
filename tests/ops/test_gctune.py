"""`lgsp serve` freezes start-up's objects and raises the generation-0 threshold; other apps leave the GC alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from lgsp import gctune


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tune_freezes_survivors_and_sets_gen0(restore_gc: None) -> None:
    gen1, gen2 = gc.get_threshold()[1:]
    kept: list[list[int]] = [[] for _ in range(100)]  # start-up objects that survive: frozen, never walked again
    gctune.tune_after_startup(12_345)
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (12_345, gen1, gen2)


def test_zero_keeps_the_threshold(restore_gc: None) -> None:
    before = gc.get_threshold()
    gctune.tune_after_startup(0)
    assert gc.get_threshold() == before


def test_cyclic_garbage_made_after_the_freeze_is_still_collected(restore_gc: None) -> None:
    import weakref

    gctune.tune_after_startup(0)

    class Node:
        pass

    node = Node()
    node.self = node  # type: ignore[attr-defined]
    ref = weakref.ref(node)
    del node
    gc.collect()
    assert ref() is None


def test_only_the_serving_factory_tunes(tmp_path: object, monkeypatch: pytest.MonkeyPatch, restore_gc: None) -> None:
    from fastapi.testclient import TestClient

    from lgsp.app import create_app
    from lgsp.settings import Settings

    calls: list[int] = []
    monkeypatch.setattr(gctune, "tune_after_startup", calls.append)
    settings = Settings.load(database_url=f"sqlite:///{tmp_path}/gc.db", gc_gen0_threshold=5_000)
    with TestClient(create_app(settings).api):
        pass
    assert calls == []
    with TestClient(create_app(settings, serving=True).api):
        pass
    assert calls == [5_000]
    with TestClient(create_app(Settings.load(database_url=f"sqlite:///{tmp_path}/gc.db",
                                             gc_freeze_after_start=False), serving=True).api):
        pass
    assert calls == [5_000]
