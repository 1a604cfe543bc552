#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (Playwright drives it through executable_path; no browser
# download). Idempotent; needs root (CI and the dev machine run as root) and the Debian package mirror.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure-chromium: chromium is missing and this is not root: apt-get install chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
(
  flock 9
  command -v chromium >/dev/null 2>&1 && exit 0
  apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends chromium >/dev/null
  }
) 9>/tmp/apt.lock
chromium --version
