#!/usr/bin/env bash
# Stop CKAN and the Solr stand-in by the process ids recorded in var/ckan/*.pid (no name matching).
set -euo pipefail
source "$(dirname "$0")/common.sh"
mkdir -p "$CKAN_DIR"
exec 9>"$CKAN_DIR/.lock"; flock 9   # one ensure/start/stop at a time per checkout
for name in ckan solr; do
  pidfile="$CKAN_DIR/$name.pid"
  [[ -f "$pidfile" ]] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
done
