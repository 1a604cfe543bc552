"""Reading the loop-lag monitor's files (lgsp.looplag): the benchmarks' stall figures come from these."""

from __future__ import annotations

import json
from pathlib import Path

from lgsp.looplag import stalls_ms, worst_stall_ms


def _file(tmp_path: Path, rows: list[tuple[int, float]]) -> str:
    path = tmp_path / "lag.jsonl"
    path.write_text("".join(json.dumps({"t": t, "lag_ms": lag}) + "\n" for t, lag in rows), encoding="utf-8")
    return str(path)


def test_only_the_seconds_inside_a_window_count(tmp_path: Path) -> None:
    path = _file(tmp_path, [(100, 50.0), (101, 1.5), (102, 2.5), (103, 40.0), (200, 3.0), (201, 9.0)])
    assert stalls_ms(path, [(101, 102), (200, 200)]) == [1.5, 2.5, 3.0]
    assert worst_stall_ms(path, 101, 102) == 2.5
    assert worst_stall_ms(path, 100, 201) == 50.0


def test_no_second_in_the_window_gives_none(tmp_path: Path) -> None:
    path = _file(tmp_path, [(100, 5.0)])
    assert stalls_ms(path, [(10, 20)]) == []
    assert worst_stall_ms(path, 10, 20) is None
