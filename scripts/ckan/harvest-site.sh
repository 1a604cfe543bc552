#!/usr/bin/env bash
# A SECOND CKAN site -- "another portal" (data.gov.vn runs CKAN-style APIs) -- that harvests lgsp's portal
# with ckanext-dcat's DCAT harvester (ckanext-harvest). Same venv and servers as var/ckan (PostgreSQL,
# Redis, the Solr stand-in), but its own database, Solr core, Redis db, site id, port and storage, under
# var/ckan/harvest-site/. Plugins: harvest dcat dcat_rdf_harvester -- none of lgsp's.
#   harvest-site.sh ensure   config + database + harvest tables + a sysadmin token (idempotent)
#   harvest-site.sh start    serve it on 127.0.0.1 (gunicorn), pid in var/ckan/harvest-site/ckan.pid
#   harvest-site.sh stop     stop it by that pid
# Needs scripts/ckan/ensure.sh first (the venv and var/ckan/ckan.ini) and the Solr stand-in running for
# `start` (scripts/ckan/start.sh starts it).
set -euo pipefail
source "$(dirname "$0")/common.sh"
SITE_DIR="$CKAN_DIR/harvest-site"
SITE_INI="$SITE_DIR/ckan.ini"
SITE_DB="${CKAN_DB}_harvest"
mkdir -p "$SITE_DIR/log" "$SITE_DIR/storage"
exec 9>"$SITE_DIR/.lock"; flock 9
[[ -f "$CKAN_INI" ]] || { log "run scripts/ckan/ensure.sh first"; exit 1; }
if [[ ! -f "$SITE_DIR/port" ]]; then
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' > "$SITE_DIR/port"
fi
SITE_PORT="$(cat "$SITE_DIR/port")"
SITE_URL="http://127.0.0.1:$SITE_PORT"
site_cli() { "$CKAN_VENV/bin/ckan" -c "$SITE_INI" "$@"; }

ensure() {
  if ! psql -U "$PGUSER_" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$SITE_DB'" | grep -q 1; then
    log "creating database $SITE_DB (second site)"
    createdb -U "$PGUSER_" -E UTF8 -T template0 "$SITE_DB"
  fi
  cat > "$SITE_INI" <<INI
[app:main]
use = config:$CKAN_INI
sqlalchemy.url = postgresql://$PGUSER_@$PGHOST/$SITE_DB
solr_url = http://127.0.0.1:$SOLR_PORT/solr/ckan_harvest_site
ckan.redis.url = redis://127.0.0.1:6379/$((REDIS_DB + 2))
ckan.harvest.mq.type = redis
ckan.harvest.mq.hostname = 127.0.0.1
ckan.harvest.mq.port = 6379
ckan.harvest.mq.redis_db = $((REDIS_DB + 3))
ckan.site_id = lgsp-harvest-site
ckan.site_url = $SITE_URL
ckan.site_title = Second portal (harvests lgsp)
ckan.plugins = harvest dcat dcat_rdf_harvester
ckanext.dcat.rdf.profiles = euro_dcat_ap_2
ckan.storage_path = $SITE_DIR/storage
ckan.locale_default = vi
INI
  site_cli db upgrade >/dev/null 2>"$SITE_DIR/log/db.log" || { cat "$SITE_DIR/log/db.log" >&2; exit 1; }
  site_cli db upgrade -p harvest >/dev/null 2>>"$SITE_DIR/log/db.log" || { cat "$SITE_DIR/log/db.log" >&2; exit 1; }
  if [[ ! -s "$SITE_DIR/token" ]]; then
    if ! site_cli user show harvest_admin 2>/dev/null | grep -q "name=harvest_admin"; then
      site_cli user add harvest_admin email=harvest@lgsp.invalid \
        "password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')" >/dev/null 2>&1
    fi
    site_cli sysadmin add harvest_admin >/dev/null 2>&1 <<<"y" || true
    (umask 077; site_cli user token add harvest_admin harvest-test 2>/dev/null | tail -n1 | tr -d '[:space:]' \
      > "$SITE_DIR/token")
  fi
  log "second site configured: $SITE_INI ($SITE_URL)"
}

alive() { [[ -f "$SITE_DIR/ckan.pid" ]] && kill -0 "$(cat "$SITE_DIR/ckan.pid")" 2>/dev/null; }

start() {
  alive && return 0
  CKAN_INI="$SITE_INI" setsid "$CKAN_VENV/bin/gunicorn" --chdir "$ROOT/scripts/ckan" wsgi:application \
    --bind "127.0.0.1:$SITE_PORT" --workers 1 --timeout 120 --pid "$SITE_DIR/ckan.pid" \
    >"$SITE_DIR/log/ckan.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$SITE_DIR/ckan.pid"
  local deadline=$((SECONDS + 90))
  until curl -fsS -o /dev/null "$SITE_URL/api/3/action/status_show" 2>/dev/null; do
    (( SECONDS < deadline )) || { tail -n 40 "$SITE_DIR/log/ckan.log" >&2; exit 1; }
    sleep 0.3
  done
  log "second site up at $SITE_URL"
}

stop() {
  alive || { rm -f "$SITE_DIR/ckan.pid"; return 0; }
  local pid; pid="$(cat "$SITE_DIR/ckan.pid")"
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$SITE_DIR/ckan.pid"
  log "stopped second site (pid $pid)"
}

case "${1:-ensure}" in
  ensure) ensure ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 ensure|start|stop" >&2; exit 2 ;;
esac
