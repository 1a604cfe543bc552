#!/usr/bin/env bash
# Debian's HAProxy for the load-balancer and mTLS tests (tests/ops). Idempotent; needs root (CI and the dev
# machine run as root) and the Debian package mirror. apt-get update runs only when the install fails.
set -euo pipefail
if command -v haproxy >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure-haproxy: haproxy is missing and this is not root: apt-get install haproxy" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
(
  flock 9
  command -v haproxy >/dev/null 2>&1 && exit 0
  apt-get install -y -q --no-install-recommends haproxy >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends haproxy >/dev/null
  }
) 9>/tmp/apt.lock
haproxy -v | sed -n 1p
