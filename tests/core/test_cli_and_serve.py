"""The `lgsp` command as an operator uses it, and `lgsp serve --workers 2` as a real multi-process server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from lgsp.cli.main import app as cli_app
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import start_server
from tests.core.conftest import CLIENT, ECHO, registry_yaml
from tests.core.providers import closed_port_url, provider_app

LGSP = [sys.executable, "-m", "lgsp.cli"]


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run(args: list[str], env: dict[str, str], check: bool = True) -> Ran:
    """Run `lgsp ARGS` in-process (typer's runner: same parsing and exit codes, no interpreter start-up)."""
    result = CliRunner().invoke(cli_app, args, env=env, catch_exceptions=False)
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    if check and ran.returncode != 0:
        raise AssertionError(f"lgsp {' '.join(args)} failed ({ran.returncode}):\n{ran.stdout}\n{ran.stderr}")
    return ran


def run_process(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `lgsp ARGS` as a real process (where a separate process matters: serve, logs)."""
    result = subprocess.run([*LGSP, *args], env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"lgsp {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "LGSP_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}


@pytest.fixture(scope="module")
def provider_url() -> Iterator[str]:
    server = start_server(provider_app())
    yield server.url
    server.stop()


def write_registry(tmp_path: Path, provider: str) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(registry_yaml(provider, closed_port_url(), closed_port_url(), closed_port_url(),
                                  closed_port_url()), encoding="utf-8")
    return path


def test_every_command_has_help(env: dict[str, str]) -> None:
    for args in (["--help"], ["serve", "--help"], ["worker", "--help"], ["db", "upgrade", "--help"],
                 ["apply", "--help"], ["registry", "export", "--help"], ["clients", "create", "--help"],
                 ["clients", "rotate-secret", "--help"], ["clients", "disable", "--help"], ["audit", "tail", "--help"],
                 ["audit", "verify", "--help"], ["demo", "--help"], ["keys", "rotate", "--help"]):
        assert "Usage" in run([*args], env).stdout


def test_operator_workflow(env: dict[str, str], tmp_path: Path, provider_url: str) -> None:
    assert "store at revision" in run(["db", "upgrade"], env).stdout
    registry = write_registry(tmp_path, provider_url)
    dry = run(["apply", str(registry), "--dry-run"], env).stdout
    assert "+ agency 000.00.12.H10" in dry and "would change" in dry
    assert "+ agency" in run(["apply", str(registry)], env).stdout
    assert run(["apply", str(registry)], env).stdout.strip() == "no changes"
    exported = run(["registry", "export"], env).stdout
    again = tmp_path / "exported.yaml"
    again.write_text(exported, encoding="utf-8")
    assert run(["apply", str(again)], env).stdout.strip() == "no changes"

    created = json.loads(run(["clients", "create", "--system", CLIENT, "--json"], env).stdout)
    assert created["client_id"].startswith("c_") and len(created["client_secret"]) >= 32
    rotated = json.loads(run(["clients", "rotate-secret", created["client_id"], "--json"], env).stdout)
    assert rotated["client_secret"] != created["client_secret"]
    assert "revoked" in run(["clients", "revoke-tokens", created["client_id"]], env).stdout
    assert "disabled" in run(["clients", "disable", created["client_id"]], env).stdout
    admin = json.loads(run(["clients", "create", "--scope", "admin", "--json"], env).stdout)
    last = run(["clients", "disable", admin["client_id"]], env, check=False)
    assert last.returncode == 2 and "last enabled admin" in last.stderr
    mixed = run(["clients", "create", "--scope", "admin", "--scope", "auditor"], env, check=False)
    assert mixed.returncode == 2 and "separation of duties" in mixed.stderr
    assert "000.00.12.H10/MOTCUA" in run(["clients", "list"], env).stdout
    assert "new signing key" in run(["keys", "rotate"], env).stdout


def test_bad_input_gives_clear_errors(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("agencies: [{code: 12.H10, name: x}]", encoding="utf-8")
    result = run(["apply", str(bad)], env, check=False)
    assert result.returncode == 2 and "NNN.NN.NN.XNN" in result.stderr
    # each of these was a traceback: malformed YAML, a tag safe_load refuses, bytes that are not UTF-8,
    # a list where a name belongs
    for content, said in ((b"agencies: [", "not valid YAML (line 1"), (b"a: !!python/object:os.system {}",
                          "not valid YAML"), (b"\xff\xfe", "not UTF-8"),
                          (b"agencies: [{code: 000.00.12.H10, name: [a]}]", "agencies[0].name: must be a string")):
        bad.write_bytes(content)
        result = run(["apply", str(bad)], env, check=False)
        assert result.returncode == 2 and said in result.stderr, result.stderr
    result = run(["clients", "create", "--system", "000.00.12.H10/NOPE"], env, check=False)
    assert result.returncode == 2 and "no system" in result.stderr
    result = run(["clients", "disable", "c_missing"], env, check=False)
    assert result.returncode == 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_with_two_workers_on_postgresql(tmp_path: Path, provider_url: str) -> None:
    url = create_database("lgsp_t_serve")
    env = {**os.environ, "LGSP_DATABASE_URL": url, "COLUMNS": "200"}
    port = free_port()
    try:
        run(["apply", str(write_registry(tmp_path, provider_url))], env)
        client = json.loads(run(["clients", "create", "--system", CLIENT, "--json"], env).stdout)
        auditor = json.loads(run(["clients", "create", "--scope", "auditor", "--json"], env).stdout)
        log_path = tmp_path / "serve.log"
        with open(log_path, "w") as log:
            server = subprocess.Popen([*LGSP, "serve", "--port", str(port), "--workers", "2"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90  # two workers start in ~5 s idle, ~35 s on a loaded 2-core runner
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            ready = httpx.get(base + "/readyz").json()
            assert ready == {"status": "ready", "checks": {"store": "ok", "migrations": "current"}}
            token = httpx.post(base + "/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(client["client_id"], client["client_secret"])).json()["access_token"]
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
                def call(n: int) -> int:
                    return http.get(f"/services/{ECHO}/n/{n}").status_code

                with ThreadPoolExecutor(16) as pool:
                    statuses = list(pool.map(call, range(300)))
            assert statuses == [200] * 300
            atoken = httpx.post(base + "/oauth/token", data={"grant_type": "client_credentials"},
                                auth=(auditor["client_id"], auditor["client_secret"])).json()["access_token"]
            indexes: list[int] = []
            after = -1
            while True:
                page = httpx.get(base + "/audit/entries", params={"after": after, "limit": 1000},
                                 headers={"Authorization": f"Bearer {atoken}"}).json()
                indexes += [e["index"] for e in page["entries"]]
                if page["next_after"] is None:
                    break
                after = page["next_after"]
            assert indexes == list(range(300))  # two processes, one gap-free sequence
            assert httpx.get(base + "/metrics").status_code == 401  # not public by default (issue 19.8)
            metrics = httpx.get(base + "/metrics", headers={"Authorization": f"Bearer {atoken}"}).text
            assert f'lgsp_requests_total{{service="{ECHO}",status="200"}} 300.0' in metrics
            assert "lgsp_request_duration_seconds_bucket" in metrics
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(20)
        verify = run(["audit", "verify"], env)
        assert "OK" in verify.stdout and "300 entries" in verify.stdout
        tail = run(["audit", "tail", "-n", "3", "--json"], env).stdout.splitlines()
        assert [json.loads(line)["index"] for line in tail] == [297, 298, 299]
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
        exchanges = [line for line in lines if line.get("event") == "exchange"]
        assert len(exchanges) == 300 and all(e["message_id"] and e["status"] == 200 for e in exchanges)
    finally:
        drop_database(url)


def test_registry_managed_from_the_cli_matches_apply(env: dict[str, str]) -> None:
    steps = [
        ["registry", "add-agency", "000.00.12.H10", "UBND"],
        ["registry", "add-agency", "000.00.31.H10", "Sở Tư pháp", "--parent", "000.00.12.H10"],
        ["registry", "add-system", "000.00.12.H10/MOTCUA", "Một cửa"],
        ["registry", "add-system", "000.00.31.H10/HOTICH", "Hộ tịch", "--no-client", "--provider"],
        ["registry", "add-service", "000.00.31.H10/HOTICH/khai-sinh", "Khai sinh", "http://127.0.0.1:9/api",
         "--timeout", "5", "--idempotent", "GET"],
        ["registry", "grant", CLIENT, "000.00.31.H10/HOTICH/khai-sinh", "--methods", "GET", "--path", "records/*"],
    ]
    for step in steps:
        run(step, env)
    exported = run(["registry", "export"], env).stdout
    assert "timeout_seconds: 5.0" in exported and "records/*" in exported
    listing = run(["registry", "list"], env).stdout
    assert "000.00.31.H10/HOTICH/khai-sinh" in listing and CLIENT in listing
    bad = run(["registry", "add-service", "000.00.12.H10/MOTCUA/x", "X", "http://a"], env, check=False)
    assert bad.returncode == 2 and "not registered as a provider" in bad.stderr
    run(["registry", "revoke", CLIENT, "000.00.31.H10/HOTICH/khai-sinh"], env)
    assert "records/*" not in run(["registry", "export"], env).stdout
    again = run(["registry", "revoke", CLIENT, "000.00.31.H10/HOTICH/khai-sinh"], env, check=False)
    assert again.returncode == 2 and "no grant" in again.stderr
    run(["registry", "remove", "service", "000.00.31.H10/HOTICH/khai-sinh"], env)
    assert "khai-sinh" not in run(["registry", "export"], env).stdout


def _int_parameters(command: Any, context: Any = None, path: str = "lgsp") -> list[tuple[str, Any]]:
    """Every integer option and argument in the command tree (typer ships its own click: duck-typed)."""
    found = []
    if hasattr(command, "list_commands"):  # a group; lgsp loads sub-commands lazily, so ask it
        context = type(context)(command)
        for name in command.list_commands(context):
            found += _int_parameters(command.get_command(context, name), context, f"{path} {name}")
    for parameter in getattr(command, "params", []):
        if any(base.__name__ == "IntParamType" for base in type(parameter.type).__mro__):
            found.append((f"{path} {parameter.name}", parameter.type))
    return found


def test_every_integer_option_of_the_cli_is_bounded() -> None:
    """An unbounded --limit or --from reached SQLite as 10^20 and printed an OverflowError traceback."""
    import typer

    from lgsp.cli.lazy import _load, lazy_commands

    root = typer.main.get_command(cli_app)
    context_class = type(root.make_context("lgsp", [], resilient_parsing=True))
    parameters = _int_parameters(root, context_class(root))
    for name, (reference, _) in lazy_commands().items():  # listed as placeholders until run: load each
        command = _load(name, reference)
        parameters += _int_parameters(command, context_class(command), f"lgsp {name}")
    assert len(parameters) >= 10, parameters
    unbounded = [name for name, kind in parameters if getattr(kind, "max", None) is None or kind.max > 2**63 - 1]
    assert not unbounded, unbounded


def test_out_of_range_numbers_are_usage_errors(env: dict[str, str], tmp_path: Path) -> None:
    for args in (["audit", "export", "--from", str(10**23), "--to", "1", str(tmp_path / "x.json")],
                 ["deliveries", "list", "--limit", str(10**20)], ["documents", "rejected", "--limit", str(10**20)]):
        result = run(args, env, check=False)
        assert result.returncode == 2 and "is not in the range" in result.stderr, (args, result.stderr)
