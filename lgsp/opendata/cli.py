"""``lgsp opendata publish [DATASET|--all]`` and ``lgsp opendata status`` (mounted by lgsp's CLI).

Both read the datasets from the registry in the lgsp store (``LGSP_DATABASE_URL``; add them with
``lgsp apply`` and a ``datasets:`` section), plus YAML specs when ``LGSP_OPENDATA_SPECS`` names a
directory. ``publish`` writes one audit entry per run to that store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table
from sqlalchemy import Engine

from registry.dataset_spec import DatasetSpec, SpecError

from .ckan import CkanClient
from .errors import OpenDataError
from .pipeline import STEPS, RunResult, run_dataset
from .settings import all_specs, pipeline_config, store_engine
from .status import dataset_status

app = typer.Typer(help="Publish curated open datasets to the CKAN portal.", no_args_is_help=True)
console = Console()


def _specs(engine: Engine, dataset: str | None, all_: bool) -> list[DatasetSpec]:
    try:
        specs = all_specs(engine)
    except SpecError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if not specs:
        raise typer.BadParameter("no datasets: add a datasets: section to the registry file and run lgsp apply "
                                 "(or set LGSP_OPENDATA_SPECS to a directory of YAML specs)")
    if all_:
        return list(specs.values())
    if not dataset:
        raise typer.BadParameter("name a DATASET or pass --all")
    if dataset not in specs:
        raise typer.BadParameter(f"unknown dataset {dataset!r}; known: {', '.join(sorted(specs)) or 'none'}")
    return [specs[dataset]]


@app.command("publish")
def publish_command(
    dataset: str = typer.Argument(None, help="dataset slug"),
    all_: bool = typer.Option(False, "--all", help="publish every registered dataset"),
    force: bool = typer.Option(False, "--force", help="overwrite a dataset edited by hand in CKAN"),
    as_json: bool = typer.Option(False, "--json", help="print the run results as JSON"),
) -> None:
    """Fetch, validate, de-identify and publish; each run is audited; exits 1 if any dataset failed."""
    engine = store_engine()
    specs = _specs(engine, dataset, all_)
    config = pipeline_config()  # a SettingsError is one ``error:`` line, exit 2 (lgsp.cli.errors)
    results: list[RunResult] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[step]}"),
                  console=console, transient=as_json) as progress:
        for spec in specs:
            task = progress.add_task(spec.slug, total=len(STEPS), step="")

            def advance(step: str, task: TaskID = task) -> None:
                progress.update(task, advance=1, step=step)

            results.append(asyncio.run(run_dataset(spec, config, force=force, progress=advance, audit=engine,
                                                   trigger="cli")))
    if as_json:
        console.print_json(json.dumps([r.to_dict() for r in results]))
    else:
        for r in results:
            colour = "green" if r.ok else "red"
            console.print(f"[{colour}]{r.dataset}: {r.status}[/] {r.message} ({r.api_calls} CKAN calls, "
                          f"audit #{r.audit_index})", highlight=False)
            for err in r.report.get("errors", [])[:10]:
                console.print(f"   row {err['row']} field {err['field']}: {err['message']}")
            for finding in r.report.get("findings", []):
                console.print(f"   field {finding['field']}: {finding['pattern']} in rows {finding['rows']}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command("status")
def status_command(
    as_json: bool = typer.Option(False, "--json", help="print the statuses as JSON"),
) -> None:
    """What the portal holds for each registered dataset (rows, hash, last run, due, hand edits), and the
    schedule's last attempt from the store (outcome and its audit entry)."""
    from registry.datasets import schedule_state

    engine = store_engine()
    specs = _specs(engine, None, True)
    attempts = schedule_state(engine)
    try:
        client = CkanClient(pipeline_config().ckan)
    except OpenDataError as exc:
        raise typer.BadParameter(str(exc)) from exc
    statuses = [dataset_status(client, spec) for spec in specs]
    last = {slug: {"outcome": row.last_outcome, "run_id": row.last_run_id, "audit_index": row.last_audit_index,
                   "at": row.last_attempt_at.strftime("%Y-%m-%dT%H:%M:%SZ") if row.last_attempt_at else None}
            for slug, row in attempts.items()}
    if as_json:
        console.print_json(json.dumps([{**dataclasses.asdict(s), "last_scheduled_run": last.get(s.dataset)}
                                       for s in statuses]))
        return
    scheduled = any(s.dataset in last for s in statuses)  # the column only once the worker has run
    table = Table("dataset", "state", "rows", "published at", "run", "due",
                  *(["last scheduled run"] if scheduled else []), "detail")
    for s in statuses:
        attempt = last.get(s.dataset)
        worker = [f"{attempt['outcome']} (audit #{attempt['audit_index']})" if attempt else ""] if scheduled else []
        table.add_row(s.dataset, s.state, "" if s.rows is None else str(s.rows), s.published_at or "",
                      (s.run_id or "")[:12], "yes" if s.due else "no", *worker, s.detail)
    console.print(table)
