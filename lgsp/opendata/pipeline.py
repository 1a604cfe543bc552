"""The publishing pipeline, top to bottom in one place: fetch -> parse -> scan for personal data ->
validate -> de-identify -> write CSV/JSON -> publish to CKAN. Each step is a small function in its own
module; a failing step raises an :class:`OpenDataError` whose report lands in the :class:`RunResult`.

Given an ``audit`` engine (the lgsp store), every run -- failed, unchanged or published -- ends with one
entry in the audit log (:mod:`.audit`), and a run that changed the portal then records that entry's
index as the dataset's ``lgsp_audit_index``. The entry is written *after* the outcome is known, so it
never claims a publish that did not happen; the price is one more CKAN call per changed dataset.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from registry.dataset_spec import DatasetSpec

from .audit import principal, record_run, run_entry
from .ckan import CkanClient, CkanTarget
from .columns import Columns
from .errors import OpenDataError
from .fetch import Digest, client_credentials_token, fetch, parse_rows
from .output import Artifact, CellTexts, content_hash, csv_artifact, json_artifact
from .personal import deidentify_columns, ensure_no_personal_data
from .publish import (
    Provenance,
    check_hand_edit,
    create_dataset,
    dataset_metadata,
    finish,
    is_up_to_date,
    metadata_hash,
    show_target,
    unchanged_source,
    upload_resource,
)
from .validate import validate_rows

if TYPE_CHECKING:
    from sqlalchemy import Engine

STEPS = ("fetch", "scan", "validate", "mask", "write", "upload")
ProgressFn = Callable[[str], None]


@dataclass
class RunResult:
    """What one run did; ``status`` is published/created/updated/unchanged or the failure's status."""

    dataset: str
    run_id: str
    status: str
    started_at: str
    rows: int = 0
    content_hash: str | None = None
    dataset_id: str | None = None
    api_calls: int = 0
    message: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    audit_index: int | None = None  # this run's audit entry (None when not audited)
    source_audit_index: str | None = None  # the gateway exchange the source was read in

    @property
    def ok(self) -> bool:
        return self.status in {"created", "updated", "unchanged"}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PipelineConfig:
    gateway_url: str
    ckan: CkanTarget
    source_token: str | None = None
    source_client: tuple[str, str] | None = None  # (client_id, secret): get a token from the gateway
    hash_key: bytes = b"lgsp-opendata"  # keyed hash for "hash" personal fields; set per deployment


class SourceDigest(Digest, Protocol):
    """The source fingerprint's digest (a ``hashlib`` SHA-256 object)."""

    def hexdigest(self) -> str: ...


def source_fingerprint(spec: DatasetSpec, config: PipelineConfig, body: bytes) -> str:
    """Hash of everything the published bytes depend on: the source body, the schema and personal
    rules, the published fields and the pseudonymisation key (hashed, never stored)."""
    digest = fingerprint_digest(spec, config)
    digest.update(body)
    return digest.hexdigest()


def fingerprint_digest(spec: DatasetSpec, config: PipelineConfig) -> SourceDigest:
    """The :func:`source_fingerprint` digest before the body: fed the rules, then ``\\0``. The pipeline
    has :func:`.fetch.fetch` feed it the body as it arrives (never a copy of the body after the rules)."""
    rules = json.dumps({"schema": spec.table_schema, "fields": spec.published_fields,
                        "key": hashlib.sha256(config.hash_key).hexdigest(), "v": 1}, sort_keys=True)
    return hashlib.sha256(rules.encode() + b"\0")


async def run_dataset(spec: DatasetSpec, config: PipelineConfig, *, force: bool = False,
                      run_id: str | None = None, progress: ProgressFn | None = None,
                      audit: Engine | None = None, trigger: str = "cli") -> RunResult:
    """Publish one dataset; never raises for data or service faults -- the result says what happened.
    With ``audit``, the run is written to the audit log (see the module docstring); ``trigger`` (cli,
    worker, demo) is recorded with it."""
    started = time.perf_counter()
    result = RunResult(spec.slug, run_id or uuid.uuid4().hex, "running",
                       datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    client = CkanClient(config.ckan)
    source_message_id = await _run_steps(spec, config, result, client, force=force, progress=progress,
                                         audited=audit is not None)
    if audit is not None:
        await _audit(spec, config, result, audit, client, trigger=trigger, force=force,
                     latency_us=int((time.perf_counter() - started) * 1_000_000),
                     source_message_id=source_message_id)
    return result


async def _run_steps(spec: DatasetSpec, config: PipelineConfig, result: RunResult, client: CkanClient, *,
                     force: bool, progress: ProgressFn | None, audited: bool) -> str | None:
    """The steps; fills ``result`` and returns the gateway message id of the source read (if any).

    CKAN's side runs overlapped with lgsp's own work, on a few threads: ``package_show`` (and, for a
    new dataset, ``organization_show``) while the source is fetched; creating the dataset (once the
    rows passed the scan and validation) while they are de-identified and written; the CSV upload while
    the JSON is written, and the JSON upload alongside it (should the JSON land first, one reorder puts
    the CSV back in front). The order of *writes* to CKAN is the one :mod:`.publish` documents, so an
    interrupted run still converges."""
    step = "fetch"
    source_message_id: str | None = None

    def mark(name: str, started: float) -> float:
        result.timings[name] = round(time.perf_counter() - started, 6)
        if progress:
            progress(name)
        return time.perf_counter()

    jobs = ThreadPoolExecutor(max_workers=3, thread_name_prefix=f"opendata-{spec.slug}")
    pending: list[Future[Any]] = []

    def submit(fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future = jobs.submit(fn, *args)
        pending.append(future)
        return future

    try:
        t = time.perf_counter()
        shown = submit(show_target, client, spec)
        token = config.source_token
        if config.source_client:
            token = await client_credentials_token(config.gateway_url, *config.source_client)
        digest = fingerprint_digest(spec, config)
        fetched = await fetch(spec, config.gateway_url, token, digest=digest)
        source_message_id, result.source_audit_index = fetched.message_id, fetched.audit_index
        source_hash = digest.hexdigest()
        step = "ckan"
        current, organization_exists = await asyncio.wrap_future(shown)
        if unchanged_source(current, spec, source_hash) and not force:
            assert current is not None
            result.status, result.dataset_id = "unchanged", current["id"]
            result.rows, result.content_hash = int(current.get("lgsp_row_count") or 0), current["lgsp_content_hash"]
            mark("fetch", t)
            return source_message_id
        with _gc_paused():  # no await in here: nothing else of this process runs on this thread meanwhile
            step = "fetch"
            rows = parse_rows(spec, fetched)
            del fetched  # the body is no longer needed: free it before the files are written
            columns = Columns(rows)
            t = mark("fetch", t)
            step = "scan"
            ensure_no_personal_data(spec, rows, columns)
            t = mark("scan", t)
            step = "validate"
            validate_rows(spec, rows, columns)
            t = mark("validate", t)
            step = "upload"
            flagged = check_hand_edit(current, spec, force=force)
            created = current is None
            dataset: Future[Any] = (submit(create_dataset, client, spec, result.run_id, organization_exists)
                                    if created else _done(current))
            step = "mask"
            masked = deidentify_columns(spec, columns, config.hash_key)
            t = mark("mask", t)
            step = "write"
            fields = spec.published_fields
            texts = CellTexts(columns, masked)
            csv_file = csv_artifact(spec.slug, texts.csv_bytes(fields))
            # Audited: lgsp_audit_index will name this run's own entry (patched in after it is written);
            # not audited (benchmarks, tests of the pipeline alone): the source exchange's index.
            provenance = Provenance(result.run_id, len(rows), "",
                                    None if audited else result.source_audit_index or source_message_id,
                                    source_hash)
            csv_upload = submit(_upload_after, client, dataset, csv_file, provenance, flagged)
            json_file = json_artifact(spec.slug, texts.json_bytes(fields))
            del texts
            artifacts = [csv_file, json_file]
            result.rows, result.content_hash = len(rows), content_hash(artifacts)
            provenance.content_hash = result.content_hash
            t = mark("write", t)
        step = "upload"
        json_upload = submit(_upload_after, client, dataset, json_file, provenance, flagged)
        # Free the rows while CKAN works on the uploads rather than when the run returns (100k dicts
        # and their columns take ~15 ms to release): nothing below needs them, only the files.
        del rows, columns, masked
        answers = [await asyncio.wrap_future(csv_upload), await asyncio.wrap_future(json_upload)]
        package = await asyncio.wrap_future(dataset)
        await asyncio.to_thread(_csv_first, client, package, answers)
        if not created and not flagged and is_up_to_date(package, metadata_hash(dataset_metadata(spec)),
                                                         provenance, artifacts):
            result.status = "unchanged"
        else:
            await asyncio.to_thread(finish, client, package, spec, provenance)
            result.status = "created" if created else "updated"
        mark("upload", t)
        result.dataset_id = package["id"]
        if flagged:
            result.report = {"overwrote_hand_edit": flagged}
    except OpenDataError as exc:
        result.status, result.message, result.report = exc.status, str(exc), {"step": step, **exc.report}
    finally:
        # Never leave a CKAN call running past the run (the next run must see its outcome).
        for future in pending:
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(future)
        jobs.shutdown(wait=True)
        result.api_calls = client.calls
        if result.ok and not result.message:
            result.message = f"{result.status}: {result.rows} rows, sha256 {result.content_hash}"
    return source_message_id


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while the rows are parsed, checked and written.

    A run allocates about a million container objects (100k row dicts, their columns) that all live to
    the end of the run and hold no reference cycles; the collector would walk them again and again (full
    collections are triggered by that very growth), which measured about a tenth of the in-process time.
    Reference counting still frees everything as usual; the collector is switched back on afterwards
    (only if it was on), and collects at its next threshold."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def _csv_first(client: CkanClient, package: dict[str, Any], answers: list[dict[str, Any] | None]) -> None:
    """Both files were new and were uploaded concurrently: if the JSON landed first, put the CSV back in
    front (one ``package_resource_reorder``, only then), so the resource order does not depend on timing."""
    csv_resource, json_resource = answers
    existing = {r.get("id") for r in package.get("resources", [])}
    if csv_resource is None or json_resource is None or {csv_resource["id"], json_resource["id"]} & existing:
        return
    if int(json_resource.get("position", 0)) < int(csv_resource.get("position", 0)):
        client.call("package_resource_reorder", {"id": package["id"], "order": [csv_resource["id"]]})


def _upload_after(client: CkanClient, dataset: Future[Any], artifact: Artifact, provenance: Provenance,
                  flagged: dict[str, Any] | None) -> dict[str, Any] | None:
    """Upload one file once the dataset exists."""
    return upload_resource(client, dataset.result(), artifact, provenance, flagged)


async def _audit(spec: DatasetSpec, config: PipelineConfig, result: RunResult, engine: Engine,
                 client: CkanClient, *, trigger: str, force: bool, latency_us: int,
                 source_message_id: str | None) -> None:
    """Write the run's audit entry; then, if the portal changed, put its index in the provenance.
    A store failure is not swallowed into a successful-looking run: the status says ``audit_failed``."""
    client_id = config.source_client[0] if config.source_client else None
    try:
        caller = await asyncio.to_thread(principal, engine, client_id) if client_id else None
        entry = run_entry(spec, result, client=caller, trigger=trigger, latency_us=latency_us,
                          source_message_id=source_message_id, source_audit_index=result.source_audit_index,
                          forced=force)
        result.audit_index = await asyncio.to_thread(record_run, engine, entry)
    except Exception as exc:  # the store is down or refused the entry: make the run visibly not ok
        result.report["audit_error"] = f"{exc.__class__.__name__}: {str(exc)[:300]}"
        result.message = f"{result.message} -- but the audit entry was NOT written ({exc.__class__.__name__})"
        result.status = "audit_failed"
        return
    if result.status in {"created", "updated"} and result.dataset_id:
        try:
            await asyncio.to_thread(client.call, "package_patch",
                                    {"id": result.dataset_id, "lgsp_audit_index": str(result.audit_index)})
        except OpenDataError as exc:
            result.report["provenance_error"] = f"audit index {result.audit_index} not recorded in CKAN: {exc}"
        result.api_calls = client.calls


async def run_many(specs: list[DatasetSpec], config: PipelineConfig, *, force: bool = False,
                   progress: ProgressFn | None = None, audit: Engine | None = None,
                   trigger: str = "cli") -> list[RunResult]:
    """Publish datasets one after another (CKAN is the bottleneck; sequential keeps it gentle)."""
    return [await run_dataset(spec, config, force=force, progress=progress, audit=audit, trigger=trigger)
            for spec in specs]
