#!/usr/bin/env bash
# The whole test suite: lint, types, the CKAN extension against a real CKAN, then pytest.
# Store-backed tests run on SQLite and on PostgreSQL (127.0.0.1:5432); with LGSP_REQUIRE_SERVICES=1 (set by
# .ci/run) a missing service fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== layers (import-linter, .importlinter; see docs/architecture.md)"; lint-imports --no-cache
echo "== ckan (install into var/ckan/venv if needed)"; scripts/ckan/ensure.sh
echo "== ckan_ext"
var/ckan/venv/bin/pytest -q -p no:cacheprovider --ckan-ini=var/ckan/test-core.ini ckan_ext/ckanext/lgsp/tests
echo "== chromium (the console's browser tests)"; scripts/ensure-chromium.sh
echo "== haproxy (the load-balancer and mTLS tests)"; scripts/ensure-haproxy.sh
echo "== softhsm (PKCS#11 key backend tests)"; scripts/ensure-softhsm.sh
echo "== swagger-ui assets for /docs (pinned npm package, integrity-checked)"; scripts/docs/fetch-swagger-ui.sh
# With no arguments: the suite as separate pytest sessions, two at a time, then the crash and signal tests
# alone (scripts/test_units.py says why and how). With arguments: one pytest session over them.
echo "== pytest"
if [ $# -eq 0 ]; then python scripts/test_units.py; else python -m pytest "$@"; fi
