#!/usr/bin/env bash
# Start the Solr stand-in (TEST DOUBLE from tests/solr_standin) and CKAN under gunicorn on 127.0.0.1,
# pid files in var/ckan/*.pid; returns once /api/3/action/status_show answers. Already running -> no-op.
set -euo pipefail
source "$(dirname "$0")/common.sh"
mkdir -p "$CKAN_DIR"
exec 9>"$CKAN_DIR/.lock"; flock 9   # one ensure/start/stop at a time per checkout
[[ -f "$CKAN_INI" ]] || { log "run scripts/ckan/ensure.sh first"; exit 1; }
alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_http() {  # url seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    (( SECONDS < deadline )) || return 1
    sleep 0.3
  done
}

port_busy() { python3 -c 'import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"; }
fresh_solr=0
if ! alive "$CKAN_DIR/solr.pid"; then
  port_busy "$SOLR_PORT" && { log "port $SOLR_PORT is taken by another process; set LGSP_SOLR_STANDIN_PORT or remove $PORTS_FILE"; exit 1; }
  log "starting Solr stand-in (test double) on 127.0.0.1:$SOLR_PORT"
  PYTHONPATH="$ROOT/tests" setsid "$CKAN_VENV/bin/python" -m solr_standin --port "$SOLR_PORT" \
    --pidfile "$CKAN_DIR/solr.pid" >"$CKAN_DIR/log/solr.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$CKAN_DIR/solr.pid"
  wait_http "http://127.0.0.1:$SOLR_PORT/solr/ckan/admin/ping" 20 || { cat "$CKAN_DIR/log/solr.log" >&2; exit 1; }
  fresh_solr=1
fi
if (( fresh_solr )); then
  # The stand-in keeps its index in memory: rebuild it from CKAN's database after each start.
  "$CKAN_VENV/bin/ckan" -c "$CKAN_INI" search-index rebuild -q >/dev/null 2>>"$CKAN_DIR/log/solr.log" || true
fi
if ! alive "$CKAN_DIR/ckan.pid"; then
  port_busy "$CKAN_PORT" && { log "port $CKAN_PORT is taken by another process; set LGSP_CKAN_PORT or remove $PORTS_FILE"; exit 1; }
  log "starting CKAN (gunicorn) on $CKAN_URL"
  CKAN_INI="$CKAN_INI" setsid "$CKAN_VENV/bin/gunicorn" --chdir "$ROOT/scripts/ckan" wsgi:application \
    --bind "127.0.0.1:$CKAN_PORT" --workers "${LGSP_CKAN_WORKERS:-2}" --timeout 120 \
    --pid "$CKAN_DIR/ckan.pid" --access-logfile - >"$CKAN_DIR/log/ckan.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$CKAN_DIR/ckan.pid"
fi
if ! wait_http "$CKAN_URL/api/3/action/status_show" 90; then
  log "CKAN did not answer; last log lines:"; tail -n 40 "$CKAN_DIR/log/ckan.log" >&2; exit 1
fi
log "CKAN up at $CKAN_URL (solr stand-in :$SOLR_PORT)"
