#!/usr/bin/env bash
# Debian's wrk for the gateway benchmark's wrk mode (bench/gateway.py --tool wrk). Benchmarks are not run in CI,
# so scripts/test.sh does not call this. Idempotent; needs root and the Debian package mirror.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure-wrk: wrk is missing and this is not root: apt-get install wrk" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
(
  flock 9
  command -v wrk >/dev/null 2>&1 && exit 0
  apt-get install -y -q --no-install-recommends wrk >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends wrk >/dev/null
  }
) 9>/tmp/apt.lock
command -v wrk
