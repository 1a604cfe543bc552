"""``lgsp opendata publish [DATASET|--all]`` and ``lgsp opendata status`` (mounted by lgsp's CLI)."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from .ckan import CkanClient
from .errors import OpenDataError
from .pipeline import STEPS, RunResult, run_dataset
from .settings import SettingsError, pipeline_config, specs_dir
from .spec import DatasetSpec, SpecError, load_specs
from .status import dataset_status

app = typer.Typer(help="Publish curated open datasets to the CKAN portal.", no_args_is_help=True)
console = Console()


def _specs(dataset: str | None, all_: bool) -> list[DatasetSpec]:
    try:
        specs = load_specs(specs_dir())
    except SpecError as exc:
        raise typer.BadParameter(str(exc)) from exc
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
    """Fetch, validate, de-identify and publish; exits 1 if any dataset failed."""
    specs = _specs(dataset, all_)
    try:
        config = pipeline_config()
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from exc
    results: list[RunResult] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[step]}"),
                  console=console, transient=as_json) as progress:
        for spec in specs:
            task = progress.add_task(spec.slug, total=len(STEPS), step="")

            def advance(step: str, task: TaskID = task) -> None:
                progress.update(task, advance=1, step=step)

            results.append(asyncio.run(run_dataset(spec, config, force=force, progress=advance)))
    if as_json:
        console.print_json(json.dumps([r.to_dict() for r in results]))
    else:
        for r in results:
            colour = "green" if r.ok else "red"
            console.print(f"[{colour}]{r.dataset}: {r.status}[/] {r.message} ({r.api_calls} CKAN calls)")
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
    """What the portal holds for each registered dataset (rows, hash, last run, due, hand edits)."""
    specs = _specs(None, True)
    try:
        client = CkanClient(pipeline_config().ckan)
    except (SettingsError, OpenDataError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    statuses = [dataset_status(client, spec) for spec in specs]
    if as_json:
        console.print_json(json.dumps([dataclasses.asdict(s) for s in statuses]))
        return
    table = Table("dataset", "state", "rows", "published at", "run", "due", "detail")
    for s in statuses:
        table.add_row(s.dataset, s.state, "" if s.rows is None else str(s.rows), s.published_at or "",
                      (s.run_id or "")[:12], "yes" if s.due else "no", s.detail)
    console.print(table)
