"""Memory a large request used goes back to the system once it is answered (issue 19.3).

Two halves: the C library call really shrinks a process whose heap a large XML parse left fragmented
(measured on the process's own VmRSS, in a fresh interpreter so nothing else moves the figure), and the
application makes that call after a large API body, not after small ones and not on the gateway path.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lgsp import memory
from lgsp.app import create_app
from lgsp.settings import Settings

FRAGMENTED_HEAP = textwrap.dedent('''
    import gc, json
    from lxml import etree
    from lgsp.memory import release_free_memory
    from lgsp.safexml import hardened_parser

    def rss_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    before = rss_kb()
    root = etree.fromstring(b"<r>" + b"<a>x</a>" * 1_000_000 + b"</r>", hardened_parser())
    kept = [bytes(200_000) for _ in range(40)]  # large buffers, like bodies, between the small nodes
    del root, kept
    gc.collect()
    freed = rss_kb()
    trimmed = release_free_memory()
    print(json.dumps({"before": before, "freed": freed, "after": rss_kb(), "trimmed": trimmed}))
''')


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc to read VmRSS")
def test_release_returns_a_fragmented_heap_to_the_system() -> None:
    out = subprocess.run([sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    figures = __import__("json").loads(out.strip().splitlines()[-1])
    assert figures["trimmed"] is True
    held = figures["freed"] - figures["before"]
    assert held > 5_000, f"the parse should leave freed pages resident first: {figures}"
    assert figures["after"] - figures["before"] < held / 4, f"most of it must go back: {figures}"


@pytest.fixture
def app_and_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, list[int]]:
    calls: list[int] = []
    monkeypatch.setattr(memory, "release_free_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(memory, "TRIM_AFTER_BYTES", 4000)  # the endpoints' own body limits are far lower than 1 MiB
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp_path / 'm.db'}", access_log=False,
                                   audit_heads_enabled=False))
    return TestClient(app), calls


def test_a_large_api_body_is_followed_by_a_trim_and_a_small_one_is_not(
        app_and_calls: tuple[TestClient, list[int]]) -> None:
    client, calls = app_and_calls
    with client:
        small = client.post("/oauth/token", content=b"grant_type=client_credentials",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert small.status_code in (400, 401) and calls == []
        large = client.post("/oauth/token", content=b"grant_type=client_credentials&pad="
                            + b"x" * 5000,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert large.status_code in (400, 401, 413)
        assert calls == [1]
        unread = client.post("/documents", content=b"<x>" + b" " * (memory.TRIM_AFTER_BYTES + 10) + b"</x>",
                             headers={"Content-Type": "application/xml"})
        assert unread.status_code == 401  # refused before the body is read: nothing was held, nothing to trim
    assert calls == [1]


def test_the_gateway_path_is_not_trimmed(app_and_calls: tuple[TestClient, list[int]]) -> None:
    client, calls = app_and_calls
    with client:
        reply = client.post("/services/000.00.00.G22/NGSP/x/y", content=b" " * (memory.TRIM_AFTER_BYTES + 10))
        assert reply.status_code == 401
    assert calls == []
