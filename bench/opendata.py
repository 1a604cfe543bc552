"""Open-data publishing throughput: a 100k-row dataset from the sample department service to resources
published in a real CKAN (scripts/ckan/*, Solr test double), against writing the same CSV straight
with the csv module.

What is measured, in one run:
* the pipeline (lgsp.opendata.run_dataset): fetch over HTTP, personal-data scan, frictionless
  validation, de-identification, CSV+JSON writing, upload to CKAN -- split per step;
* the baseline: the same rows (already in memory) written with ``csv.writer`` to bytes;
* CKAN API round-trips per publish: first publish (create), changed data (update), unchanged data.

ratio = pipeline rows/s (first publish, end to end, best of --repeat) / plain csv-module rows/s (best of
as many); ``ratio_median`` is the same with the medians of those runs, reported beside it to show how
far noise moves the figure. Lower than 1 by design:
the pipeline validates, de-identifies, uploads two files and records provenance; the figure shows what
that costs per row.

    .venv/bin/python bench/opendata.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import io
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lgsp.opendata import CkanTarget, PipelineConfig, RunResult, load_specs, run_dataset  # noqa: E402
from lgsp.opendata.sample_source import SourceState, create_app, readings  # noqa: E402
from lgsp.testing.servers import start_server  # noqa: E402

TOKENS = ROOT / "var" / "ckan" / "tokens.json"
TOKEN = "bench-source-token"


def ensure_ckan() -> tuple[CkanTarget, bool]:
    """The served CKAN, installed/started by the repo's scripts when it is not already up."""
    def answers() -> bool:
        try:
            url = json.loads(TOKENS.read_text())["url"]
            return httpx.get(f"{url}/api/3/action/status_show", timeout=3).status_code == 200
        except (OSError, ValueError, KeyError, httpx.HTTPError):
            return False

    started = False
    if not answers():
        for script in ("ensure.sh", "start.sh"):
            subprocess.run(["bash", str(ROOT / "scripts" / "ckan" / script)], check=True, cwd=ROOT)
        started = True
    return CkanTarget.from_tokens_file(TOKENS), started


def plain_csv_seconds(rows: list[dict[str, object]], fields: list[str], repeat: int = 3) -> list[float]:
    """Seconds of each of ``repeat`` runs of the baseline: the rows written with csv.writer to bytes."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows([row.get(f) for f in fields] for row in rows)
        buffer.getvalue().encode("utf-8")
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description="open-data pipeline rows/s vs plain csv module")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="first publishes timed; the best counts")
    args = parser.parse_args()

    target, started = ensure_ckan()
    state = SourceState(rows=args.rows, token=TOKEN)
    server = start_server(create_app(state))
    base = load_specs(ROOT / "lgsp" / "opendata" / "datasets")["can-tho-air-quality"]
    spec = dataclasses.replace(base, slug=f"bench-aq-{uuid.uuid4().hex[:8]}")
    config = PipelineConfig(gateway_url=server.url, ckan=target, source_token=TOKEN)
    try:
        # The first publish is timed best of --repeat (each under a fresh slug, so each is a create), like
        # the csv baseline below: on a shared machine one run alone mostly measures the neighbours.
        first_s = float("inf")
        first_times = []
        for attempt in range(args.repeat):
            fresh = spec if attempt == 0 else dataclasses.replace(base, slug=f"bench-aq-{uuid.uuid4().hex[:8]}")
            t = time.perf_counter()
            run: RunResult = asyncio.run(run_dataset(fresh, config))
            elapsed = time.perf_counter() - t
            first_times.append(elapsed)
            assert run.status == "created", run.message
            if elapsed < first_s:
                first, first_s = run, elapsed
        state.version += 1
        changed = asyncio.run(run_dataset(spec, config))
        assert changed.status == "updated", changed.message
        t = time.perf_counter()
        unchanged = asyncio.run(run_dataset(spec, config))
        unchanged_s = time.perf_counter() - t
        assert unchanged.status == "unchanged", unchanged.message
    finally:
        server.stop()
        if started:
            subprocess.run(["bash", str(ROOT / "scripts" / "ckan" / "stop.sh")], check=False, cwd=ROOT)

    rows = readings(SourceState(rows=args.rows))
    plain_times = plain_csv_seconds(rows, spec.published_fields, repeat=max(3, args.repeat))
    plain_s = min(plain_times)
    pipeline_rps = first.rows / first_s
    plain_rps = args.rows / plain_s
    median_ratio = (first.rows / statistics.median(first_times)) / (args.rows / statistics.median(plain_times))

    print(f"open-data pipeline, {first.rows} rows, CKAN {target.url} (Solr: test double)")
    print(f"{'step':<10} {'first s':>9} {'update s':>9} {'unchanged s':>12}")
    for step in ("fetch", "scan", "validate", "mask", "write", "upload"):
        print(f"{step:<10} {first.timings.get(step, 0):>9.3f} {changed.timings.get(step, 0):>9.3f} "
              f"{unchanged.timings.get(step, 0):>12.3f}")
    print(f"{'total':<10} {first_s:>9.3f} {sum(changed.timings.values()):>9.3f} {unchanged_s:>12.3f}")
    print(f"{'variant':<28} {'rows/s':>12}")
    print(f"{'pipeline (end to end)':<28} {pipeline_rps:>12,.0f}")
    print(f"{'plain csv.writer':<28} {plain_rps:>12,.0f}")
    print("first publishes, s: " + " ".join(f"{x:.3f}" for x in first_times)
          + "; plain csv.writer, s: " + " ".join(f"{x:.3f}" for x in plain_times))
    print(f"CKAN API round-trips per publish: create {first.api_calls}, update {changed.api_calls}, "
          f"unchanged {unchanged.api_calls}")
    print("ratio = pipeline rows/s / plain csv-module rows/s (same rows, same run; best of each, "
          f"and of the medians: {median_ratio:.3f})")
    summary = {
        "benchmark": "opendata",
        "ratio": round(pipeline_rps / plain_rps, 5),
        "ratio_median": round(median_ratio, 5),
        "rows": first.rows,
        "pipeline_rows_per_s": round(pipeline_rps),
        "plain_csv_rows_per_s": round(plain_rps),
        "fetch_s": first.timings.get("fetch"),
        "validate_s": first.timings.get("validate"),
        "mask_s": round(first.timings.get("scan", 0) + first.timings.get("mask", 0), 6),
        "write_s": first.timings.get("write"),
        "upload_s": first.timings.get("upload"),
        "total_s": round(first_s, 3),
        "api_calls_create": first.api_calls,
        "api_calls_update": changed.api_calls,
        "api_calls_unchanged": unchanged.api_calls,
        "unchanged_total_s": round(unchanged_s, 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
