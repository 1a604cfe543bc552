#!/usr/bin/env bash
# SoftHSM2 for the PKCS#11 key backend's tests (lgsp/keys): install the Debian package if missing and
# initialise a test token in var/softhsm (its own config, never the system's tokens). Idempotent.
# Prints the environment the tests read (LGSP_TEST_PKCS11_*) when called with --env.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v softhsm2-util >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (flock /tmp/apt.lock apt-get install -y softhsm2 >/dev/null 2>&1) || {
      flock /tmp/apt.lock apt-get update >/dev/null && flock /tmp/apt.lock apt-get install -y softhsm2 >/dev/null; }
  else
    echo "softhsm2 is not installed and this is not root: PKCS#11 tests will be skipped" >&2
    exit 0
  fi
fi
dir="$PWD/var/softhsm"
mkdir -p "$dir/tokens"
conf="$dir/softhsm2.conf"
[ -f "$conf" ] || printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" > "$conf"
export SOFTHSM2_CONF="$conf"
if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label:.*lgsp-test"; then
  softhsm2-util --init-token --free --label lgsp-test --so-pin 0000 --pin 1234 >/dev/null
fi
module=""
for candidate in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so /usr/lib/*/libsofthsm2.so; do
  if [ -f "$candidate" ]; then module="$candidate"; break; fi
done
if [ "${1:-}" = "--env" ]; then
  echo "SOFTHSM2_CONF=$conf"
  echo "LGSP_TEST_PKCS11_MODULE=$module"
  echo "LGSP_TEST_PKCS11_TOKEN=lgsp-test"
  echo "LGSP_TEST_PKCS11_PIN=1234"
fi
