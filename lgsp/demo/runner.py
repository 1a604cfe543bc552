"""The guided demo: gateway on SQLite + sample providers, allowed and denied calls, the audit log.

The runner knows no adapter by name: each installed adapter adds its part of the tour through
`AdapterInfo.demo_step` (a `lgsp.sdk.demo.DemoStep`), found with `lgsp.adapters.parts`.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path
from string import Template
from typing import Any

from rich.console import Console
from rich.table import Table

from lgsp.adapters import parts
from lgsp.app import create_app
from lgsp.audit.query import AuditFilter, find_entries
from lgsp.audit.verify import verify_chain
from lgsp.auth.clients import create_client
from lgsp.demo.opendata_step import opendata_step
from lgsp.demo.providers import air_quality_app, civil_status_app
from lgsp.demo.tour import DemoStep, Tour, http
from lgsp.gateway.client_certs import PeerRecorder
from lgsp.serving import server_options
from lgsp.settings import Settings
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file

__all__ = ["CLIENT_SYSTEM", "http", "run_demo"]

console = Console()
DEMO_DIR = Path("var/demo")
CLIENT_SYSTEM = "000.00.12.H10/MOTCUA"


def _free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return int(sock.getsockname()[1])  # the kernel's pick when preferred is 0
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


def run_demo(port: int = 8080, keep_serving: bool = True) -> None:
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir(parents=True)
    started: list[RunningServer] = []
    try:
        _tour(port, keep_serving, started)
    finally:
        for server in reversed(started):
            server.stop()
        console.print("[dim]demo stopped: gateway and sample services shut down[/]")


def adapter_steps() -> list[DemoStep]:
    """Each installed adapter's demo step (`AdapterInfo.demo_step`), in tour order (ties by adapter name)."""
    steps = [step if isinstance(step, DemoStep) else DemoStep(run=step) for _, step in parts("demo_step")]
    return sorted(steps, key=lambda step: step.order)  # stable: parts() is in adapter-name order


def _tour(port: int, keep_serving: bool, started: list[RunningServer]) -> None:
    console.rule("[bold]lgsp demo[/]: Cần Thơ integration bus on SQLite")
    civil = start_server(civil_status_app())
    air = start_server(air_quality_app())
    started += [civil, air]
    console.print(f"sample provider [bold]Sở Tư pháp / hộ tịch[/] on {civil.url}")
    console.print(f"sample provider [bold]Sở TN&MT / quan trắc[/] on {air.url}")

    port = _free_port(port)
    base = f"http://127.0.0.1:{port}"
    settings = Settings.load(database_url=f"sqlite:///{DEMO_DIR / 'lgsp.db'}", public_url=base,
                             access_log=False)
    gateway_app = create_app(settings)
    engine = gateway_app.runtime.engine
    tour = Tour(console, base, engine, started=started)
    steps = adapter_steps()
    variables = {"CIVIL_STATUS_URL": civil.url, "AIR_QUALITY_URL": air.url}
    for step in steps:
        if step.prepare is not None:
            variables.update(step.prepare(tour))  # e.g. the NGSP simulator, which the registry names

    template = (Path(__file__).parent / "registry.yaml").read_text(encoding="utf-8")
    registry_text = Template(template).substitute(variables)
    (DEMO_DIR / "registry.yaml").write_text(registry_text, encoding="utf-8")
    console.rule("1. lgsp apply var/demo/registry.yaml")
    for change in apply(engine, parse_registry_file(registry_text)):
        console.print(f"[green]{change.render()}[/]", highlight=False)
    console.print("applying it again changes nothing:",
                  apply(engine, parse_registry_file(registry_text)) or "no changes")

    client = create_client(engine, CLIENT_SYSTEM, ["gateway"], "demo one-stop-shop system")
    auditor = create_client(engine, None, ["auditor"], "demo auditor")
    admin = create_client(engine, None, ["admin"], "demo operator")
    gateway_app.runtime.registry_changed()
    # served as `lgsp serve` serves it: request deadlines, the head limit, the TCP peer recorded
    forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    gateway = start_server(PeerRecorder(gateway_app, forwarded_allow_ips), port=port, **server_options())
    started.append(gateway)
    console.print(f"gateway listening on [bold]{base}[/]")

    console.rule("2. the one-stop-shop system gets a token (OAuth2 client credentials)")
    token = _token(base, client.client_id, client.client_secret)
    console.print(f"client {client.client_id} acting for {CLIENT_SYSTEM}: token {token[:24]}...")
    tour.auth.update({"Authorization": f"Bearer {token}", "X-LGSP-User-Id": "can-bo-mot-cua-01"})
    auth = tour.auth

    console.rule("3. calls through the gateway")
    calls = [
        ("allowed: look up a birth record", "GET", "/services/000.00.31.H10/HOTICH/khai-sinh/birth-records/KS-2025-000123", auth),
        ("allowed: air-quality stations", "GET", "/services/000.00.25.H10/QUANTRAC/chat-luong-khong-khi/stations", auth),
        ("denied: POST is not granted", "POST", "/services/000.00.31.H10/HOTICH/khai-sinh/birth-records", auth),
        ("unknown service", "GET", "/services/000.00.31.H10/HOTICH/khong-co/x", auth),
        ("no token", "GET", "/services/000.00.31.H10/HOTICH/khai-sinh/birth-records/KS-2025-000123", {}),
    ]
    for label, method, path, headers in calls:
        data = b'{"ho_ten": "Le Van A"}' if method == "POST" else None
        status, hdrs, body = http(method, base + path, headers={**headers, "Content-Type": "application/json"},
                                  data=data)
        colour = "green" if status < 400 else "yellow"
        summary = body.get("detail") if isinstance(body, dict) and "detail" in body else json.dumps(
            body, ensure_ascii=False)[:90]
        console.print(f"[{colour}]{status}[/] {label}: {method} {path}\n      audit #{hdrs.get('x-lgsp-audit-index')}"
                      f"  {summary}", highlight=False)

    for step in steps:
        step.run(tour)
    opendata_step(console, base, auth, engine)

    console.rule("5. the audit log (every call, denied ones included)")
    table = Table("#", "client", "service", "method", "status", "problem", "request sha256")
    for row in find_entries(engine, AuditFilter(limit=20)):
        table.add_row(str(row["index"]), row["client"] or "-", row["service"] or "-", row["method"],
                      str(row["status"]), (row["problem_type"] or "").rsplit("/", 1)[-1],
                      (row["request_sha256"] or "")[:16])
    console.print(table)
    result = verify_chain(engine)
    console.print(f"lgsp audit verify: {'[green]OK[/]' if result.ok else '[red]FAILED[/]'} "
                  f"({result.checked} entries, head {result.head_hex[:16]}...)")
    auditor_auth = {"Authorization": f"Bearer {_token(base, auditor.client_id, auditor.client_secret)}"}
    status, _, head = http("POST", base + "/audit/heads", headers=auditor_auth)
    if status == 200:
        console.print(f"signed tree head (Ed25519): size {head.get('tree_size')}, root "
                      f"{str(head.get('root_hash'))[:16]}..., key {str(head.get('key_id'))[:16]}... — "
                      f"receipts: GET {base}/audit/entries/0 (auditor), consistency: GET {base}/audit/consistency",
                      highlight=False)

    _try_next(base, client.client_id, client.client_secret, auditor.client_id, auditor.client_secret,
              admin.client_id, admin.client_secret)
    _console_logins(engine, base)
    if not keep_serving:
        return
    console.print("\n[bold]Serving.[/] Press Ctrl-C to stop everything the demo started.")
    wait_for_stop_signal()


def wait_for_stop_signal(poll_seconds: float = 0.5) -> int:
    """Block until SIGINT or SIGTERM; returns the signal number.

    The handler only appends to a list. It used to call ``threading.Event.set()`` while the main thread sat in
    ``Event.wait()``: a signal arriving while ``wait`` held the event's lock ran the handler in that same thread,
    which then blocked for ever on the lock, so Ctrl-C hung the demo instead of stopping it.
    """
    received: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not received:
        time.sleep(poll_seconds)
    return received[0]


def _console_logins(engine: Any, base: str) -> None:
    """One console account per role, with random passwords printed once (the demo has no identity provider)."""
    import secrets

    from lgsp.console.accounts import create_user

    console.rule("Console")
    console.print(f"open [bold]{base}/console/[/] and sign in as:")
    for username, role in (("operator", "operator"), ("security", "security_officer"), ("auditor", "auditor"),
                           ("observer", "observer")):
        password = secrets.token_urlsafe(12)
        create_user(engine, username, role, password, f"Demo {role.replace('_', ' ')}")
        console.print(f"  {username:<9} / {password}   ({role})", highlight=False)


def _token(base: str, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    status, _, body = http("POST", base + "/oauth/token", data=b"grant_type=client_credentials",
                           headers={"Authorization": f"Basic {basic}",
                                    "Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise RuntimeError(f"token request failed: {status} {body}")
    return str(body["access_token"])


def _try_next(base: str, cid: str, secret: str, aid: str, asecret: str, mid: str, msecret: str) -> None:
    console.rule("try next")
    env = f"LGSP_DATABASE_URL=sqlite:///{DEMO_DIR / 'lgsp.db'}"
    console.print(f"""[bold]Get a token as the one-stop-shop system:[/]
  TOKEN=$(curl -s -u {cid}:{secret} -d grant_type=client_credentials {base}/oauth/token | python3 -c 'import sys,json;print(json.load(sys.stdin)["access_token"])')
[bold]Call a service:[/]
  curl -i -H "Authorization: Bearer $TOKEN" {base}/services/000.00.25.H10/QUANTRAC/chat-luong-khong-khi/readings
[bold]Read the audit log as an auditor:[/]
  ATOKEN=$(curl -s -u {aid}:{asecret} -d grant_type=client_credentials {base}/oauth/token | python3 -c 'import sys,json;print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $ATOKEN" '{base}/audit/entries?status=403'
[bold]Admin API (operator credentials {mid} / {msecret}):[/]  {base}/docs
[bold]From another terminal:[/]
  {env} .venv/bin/lgsp audit tail -f
  {env} .venv/bin/lgsp registry export
  {env} .venv/bin/lgsp audit verify
[bold]Metrics (metrics, admin or auditor scope) and health:[/]
  curl -H "Authorization: Bearer $ATOKEN" {base}/metrics ; curl {base}/readyz""", highlight=False, soft_wrap=True)
    os.environ.setdefault("LGSP_DEMO_BASE_URL", base)
