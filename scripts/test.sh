#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest. Store-backed tests run on SQLite and on PostgreSQL
# (127.0.0.1:5432); with LGSP_REQUIRE_SERVICES=1 (set by .ci/run) a missing service fails the run
# instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== pytest"
python -m pytest "$@"
