"""The demo's open-data step: the Cần Thơ air-quality readings go from the demo's air-quality service,
through the gateway, to a real CKAN portal -- then a developer fetches them back with ckanapi.

What it shows, in the order an operator would do it:
  1. the dataset is registered with ``lgsp apply`` (a ``datasets:`` section next to a publisher system
     and its GET grant on the source service) -- the registry, not a loose file, says what is published;
  2. a real CKAN 2.12 is used if one answers, otherwise started with the repository's own scripts
     (``scripts/ckan/ensure.sh`` first if it never ran); if that is impossible here the step says so
     plainly and the demo goes on without it;
  3. ``lgsp opendata publish``'s pipeline runs as lgsp's publisher client (OAuth2 client credentials at
     the gateway, like any client), and the run is audited: CKAN's provenance names the audit entry;
  4. a second run finds the same bytes and publishes nothing new;
  5. a printed ``ckanapi`` command downloads the dataset -- and is run, so the demo proves it works.
CKAN is stopped when the demo process ends (atexit: the demo may keep serving until Ctrl-C) only if
this step started it, by the pids its scripts recorded.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import Engine

from lgsp.auth.clients import create_client
from lgsp.opendata.ckan import CkanTarget
from lgsp.opendata.pipeline import PipelineConfig, RunResult, run_dataset
from registry.datasets import load_specs
from registry.declarative import apply, parse_registry_file

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "ckan"
SLUG = "can-tho-air-quality"
AGENCY = "000.00.25.H10"
SOURCE_SERVICE = f"{AGENCY}/QUANTRAC/chat-luong-khong-khi"
PUBLISHER_SYSTEM = "000.00.12.H10/OPENDATA"
OUTPUT_DIR = Path("var/demo/opendata")

REGISTRY = f"""
systems:
  - id: {PUBLISHER_SYSTEM}
    name: lgsp — hệ thống xuất bản dữ liệu mở
    client: true
grants:
  - client: {PUBLISHER_SYSTEM}
    service: {SOURCE_SERVICE}
    methods: [GET]
    path: readings
datasets:
  - slug: {SLUG}
    title_vi: Chất lượng không khí thành phố Cần Thơ
    title_en: Cần Thơ air quality readings
    description_vi: Số liệu quan trắc PM2.5, PM10 và AQI theo giờ tại các trạm quan trắc tự động của thành phố Cần Thơ.
    description_en: Hourly PM2.5, PM10 and AQI readings of Cần Thơ's automatic monitoring stations.
    owner_agency_id: {AGENCY}
    organization: so-tnmt-can-tho
    organization_title: Sở Tài nguyên và Môi trường thành phố Cần Thơ
    source_service: {SOURCE_SERVICE}
    source_path: readings
    publisher: {PUBLISHER_SYSTEM}
    topic: moi-truong
    licence: cc-by
    frequency: hourly
    schedule: "5 * * * *"
    spatial_code: "92"
    spatial_name: Thành phố Cần Thơ
    contact_name: Phòng Quản lý môi trường
    contact_email: qlmt@stnmt.cantho.gov.vn
    tags: [khong-khi, moi-truong, quan-trac]
    table_schema:
      primaryKey: [ma_tram, thoi_gian]
      fields:
        - {{name: ma_tram, type: string, constraints: {{required: true, pattern: "CT-[A-Z]{{2}}-[0-9]{{2}}"}}}}
        - {{name: thoi_gian, type: datetime, constraints: {{required: true}}}}
        - {{name: pm25, type: number, constraints: {{minimum: 0}}}}
        - {{name: pm10, type: number, constraints: {{minimum: 0}}}}
        - {{name: aqi, type: integer, constraints: {{minimum: 0, maximum: 500}}}}
"""


class CkanUnavailable(RuntimeError):
    """CKAN is not running and cannot be set up here; the message says why, for the demo output."""


def ckan_dir() -> Path:
    return Path(os.environ.get("LGSP_CKAN_DIR", ROOT / "var" / "ckan"))


def _answers(url: str, within: float = 0.0) -> bool:
    """Whether CKAN answers ``status_show`` (retrying for ``within`` seconds: a fresh gunicorn is slow)."""
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/3/action/status_show", timeout=10) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            if time.monotonic() >= deadline:
                return False
        time.sleep(0.5)


def _running_elsewhere() -> bool:
    """Whether the CKAN of var/ckan/ckan.pid is alive: then someone else started it (and stops it)."""
    try:
        os.kill(int((ckan_dir() / "ckan.pid").read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def _script(name: str, timeout: float) -> None:
    try:
        proc = subprocess.run(["bash", str(SCRIPTS / name)], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise CkanUnavailable(f"scripts/ckan/{name} did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise CkanUnavailable(f"scripts/ckan/{name} exited {proc.returncode}: {' | '.join(last)}")


def ensure_ckan(console: Console) -> tuple[CkanTarget, bool]:
    """A running CKAN's publisher target, and whether this call started it (then it must stop it)."""
    if os.environ.get("LGSP_DEMO_CKAN", "1") == "0":
        raise CkanUnavailable("LGSP_DEMO_CKAN=0: CKAN left out on purpose")
    tokens = ckan_dir() / "tokens.json"

    def target() -> CkanTarget:
        return CkanTarget.from_tokens_file(tokens, "publisher")

    if tokens.is_file() and _answers(target().url, within=60.0 if _running_elsewhere() else 0.0):
        return target(), False
    if not (SCRIPTS / "start.sh").is_file():
        raise CkanUnavailable(f"no CKAN answers and {SCRIPTS} is missing (lgsp installed without its repository)")
    if not (tokens.is_file() and (ckan_dir() / "ckan.ini").is_file()):
        console.print("installing CKAN 2.12 with scripts/ckan/ensure.sh (the first time takes several minutes)")
        _script("ensure.sh", float(os.environ.get("LGSP_DEMO_CKAN_SETUP_TIMEOUT", "1500")))
    console.print("starting CKAN with scripts/ckan/start.sh (Solr replaced by the test stand-in)")
    _script("start.sh", 300)
    if not (tokens.is_file() and _answers(target().url)):
        raise CkanUnavailable("scripts/ckan/start.sh returned but CKAN does not answer")
    return target(), True


def _stop_ckan(console: Console) -> None:
    try:
        _script("stop.sh", 60)
        console.print("[dim]CKAN stopped (the demo had started it)[/]")
    except CkanUnavailable as exc:
        console.print(f"[red]could not stop CKAN: {exc}[/]")


def _wait_for_grant(base_url: str, token: str, seconds: float = 10.0) -> None:
    """The gateway reloads the registry within a second of a change; wait until the grant is live."""
    url = f"{base_url}/services/{SOURCE_SERVICE}/readings"
    time.sleep(1.5)  # one refresh interval: usually no refused probe lands in the audit log
    deadline = time.monotonic() + seconds
    while True:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - the demo's own gateway
                return
        except urllib.error.HTTPError as error:
            if error.code != 403 or time.monotonic() > deadline:
                return  # let the pipeline report whatever it is
        time.sleep(0.2)


def _token(base_url: str, client_id: str, secret: str) -> str:
    from lgsp.opendata.fetch import client_credentials_token

    return asyncio.run(client_credentials_token(base_url, client_id, secret))


def _report(console: Console, result: RunResult) -> None:
    colour = "green" if result.ok else "red"
    console.print(f"[{colour}]{result.dataset}: {result.message}[/] "
                  f"({result.api_calls} CKAN calls, audit #{result.audit_index})", highlight=False)
    for err in result.report.get("errors", [])[:5]:
        console.print(f"   row {err['row']} field {err['field']}: {err['message']}", highlight=False)


DOWNLOAD_SNIPPET = ('import json, pathlib, sys, urllib.request; out = pathlib.Path(sys.argv[1]); '
                    'out.mkdir(parents=True, exist_ok=True); '
                    '[print(urllib.request.urlretrieve(r["url"], out / r["name"])[0]) '
                    'for r in json.load(sys.stdin)["resources"]]')


def fetch_command(portal: str) -> str:
    """The shell command a developer runs to fetch the dataset: ``ckanapi action package_show`` (the
    metadata, provenance and resource URLs), piped into a stdlib download of each resource.
    (``ckanapi dump -D`` would be shorter, but ckanapi 4.11 writes the *last* resource's bytes under
    every file name of a multi-resource dataset.) lgsp's venv goes on PATH when ckanapi is not there."""
    prefix = "" if shutil.which("ckanapi") else f"PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH "
    return (f"{prefix}ckanapi action package_show id={SLUG} -r {shlex.quote(portal)} "
            f"| python3 -c {shlex.quote(DOWNLOAD_SNIPPET)} {shlex.quote(str(OUTPUT_DIR))}")


def opendata_step(console: Console, base_url: str, auth_headers: dict[str, str], engine: Engine) -> None:
    """The demo step (signature of ``lgsp.demo.runner.extra_steps``); ``auth_headers`` is unused: the
    publisher gets its own client and token, as in production."""
    console.rule("open data: Cần Thơ air quality from the gateway to a CKAN portal")
    console.print("lgsp apply (a datasets: section, the publisher system and its GET grant):")
    for change in apply(engine, parse_registry_file(REGISTRY)):
        console.print(f"[green]{change.render()}[/]", highlight=False)
    spec = load_specs(engine)[SLUG]

    try:
        target, started = ensure_ckan(console)
    except CkanUnavailable as exc:
        console.print(f"[bold yellow]CKAN could not be set up here, so nothing is published:[/] {exc}\n"
                      "   (set it up with scripts/ckan/ensure.sh && scripts/ckan/start.sh, then run the demo "
                      "again)", highlight=False)
        return
    if started:
        atexit.register(_stop_ckan, console)
    console.print(f"CKAN portal at [bold]{target.url}[/]" + (" (started by the demo)" if started else ""))

    publisher = create_client(engine, PUBLISHER_SYSTEM, ["gateway"], "lgsp open-data publisher (demo)")
    _wait_for_grant(base_url, _token(base_url, publisher.client_id, publisher.client_secret))
    config = PipelineConfig(gateway_url=base_url, ckan=target,
                            source_client=(publisher.client_id, publisher.client_secret))
    console.print(f"publishing {SLUG}: GET {base_url}/services/{SOURCE_SERVICE}/readings as client "
                  f"{publisher.client_id}, validate, write CSV + JSON, upload", highlight=False)
    _purge_previous_demo(target.url)
    first = asyncio.run(run_dataset(spec, config, audit=engine, trigger="demo"))
    _report(console, first)
    if not first.ok:
        console.print("[red]the dataset was not published; see the report above[/]")
        return
    again = asyncio.run(run_dataset(spec, config, audit=engine, trigger="demo"))
    _report(console, again)
    provenance = _provenance(target.url)
    console.print(f"provenance on the portal: run {provenance.get('run_id')}, {provenance.get('row_count')} rows, "
                  f"content sha256 {str(provenance.get('content_hash'))[:16]}..., audit entry "
                  f"#{provenance.get('audit_index')} (source read: audit #{first.source_audit_index})",
                  highlight=False)

    command = fetch_command(target.url)
    console.print("[bold]Fetch it with ckanapi[/] (metadata + provenance, then the CSV and JSON resources):")
    console.print("  " + command, highlight=False, soft_wrap=True)
    if OUTPUT_DIR.exists():
        shutil.rmtree(OUTPUT_DIR)
    # exactly the printed text, through a shell: what the demo shows is what was proven to work
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        console.print(f"[red]the command failed ({proc.returncode}):[/] {(proc.stderr or proc.stdout)[-500:]}",
                      highlight=False)
        return
    recorded = {r["name"]: r.get("hash") for r in _package(target.url)["resources"]}
    for name, expected in sorted(recorded.items()):
        path = OUTPUT_DIR / name
        actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        verdict = "[green]matches the portal's sha256[/]" if actual == expected else "[red]hash MISMATCH[/]"
        console.print(f"  fetched {path} ({path.stat().st_size if actual else 0} bytes): {verdict}", highlight=False)
    csv_path = OUTPUT_DIR / f"{SLUG}.csv"
    if csv_path.is_file():
        console.print("  " + "\n  ".join(csv_path.read_text(encoding="utf-8").splitlines()[:3]), highlight=False)
    console.print(f"  or in a browser: {target.url}/dataset/{SLUG}   DCAT: {target.url}/dataset/{SLUG}.ttl",
                  highlight=False)
    console.print(f"  status from another terminal: LGSP_DATABASE_URL=sqlite:///var/demo/lgsp.db "
                  f"LGSP_CKAN_TOKENS={ckan_dir() / 'tokens.json'} .venv/bin/lgsp opendata status", highlight=False,
                  soft_wrap=True)
    if started:
        console.print("[dim]CKAN stops when the demo ends; scripts/ckan/start.sh brings it back later[/]")


def _purge_previous_demo(portal: str) -> None:
    """Each demo starts with a fresh store (new audit log), so it starts with a fresh portal dataset
    too: a dataset left by an earlier demo would carry provenance pointing into a log that is gone."""
    from ckanapi import RemoteCKAN
    from ckanapi.errors import CKANAPIError, NotFound

    admin = CkanTarget.from_tokens_file(ckan_dir() / "tokens.json", "admin")
    try:
        RemoteCKAN(admin.url, apikey=admin.token).action.dataset_purge(id=SLUG)
    except (NotFound, CKANAPIError):
        pass  # nothing to purge (or not allowed: the publish then updates it)


def _action(portal: str, action: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{portal}/api/3/action/{action}?id={SLUG}", timeout=10) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
    return dict(body.get("result") or {})


def _provenance(portal: str) -> dict[str, Any]:
    return _action(portal, "lgsp_provenance_show")


def _package(portal: str) -> dict[str, Any]:
    return _action(portal, "package_show")
