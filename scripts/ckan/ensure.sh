#!/usr/bin/env bash
# Idempotently install and configure a real CKAN for lgsp's tests, CI and demo:
#   1. var/ckan/venv (CKAN's own venv, never lgsp's) with ckan[requirements,dev]==2.12.0, ckanext-scheming,
#      ckanext-dcat, ckanext-harvest, pyshacl, hypothesis, gunicorn and ckan_ext/ (editable) -- installed with
#      uv, so a second run is a no-op;
#   2. the CKAN database on the local PostgreSQL (127.0.0.1:5432);
#   3. var/ckan/ckan.ini with secrets generated here (never committed), Redis 127.0.0.1:6379 on its own db
#      number, solr_url pointing at the Solr stand-in (tests/solr_standin, a labelled test double);
#   4. `ckan db init` and the users lgsp needs: a sysadmin and lgsp's publisher, with API tokens written to
#      var/ckan/tokens.json (mode 600).
# Needs CKAN to be stopped or running -- step 4 uses the CLI, not HTTP.
set -euo pipefail
source "$(dirname "$0")/common.sh"
mkdir -p "$CKAN_DIR"
exec 9>"$CKAN_DIR/.lock"; flock 9   # one ensure/start/stop at a time per checkout
mkdir -p "$CKAN_DIR"

# ---- 1. the venv -------------------------------------------------------------------------------------
want="ckan=$CKAN_VERSION scheming=$SCHEMING_VERSION dcat=$DCAT_VERSION gunicorn=$GUNICORN_VERSION harvest=$HARVEST_VERSION pyshacl=$PYSHACL_VERSION hypothesis=$HYPOTHESIS_VERSION $(cat "$ROOT/ckan_ext/pyproject.toml" | sha256sum | cut -c1-16)"
stamp="$CKAN_VENV/.lgsp-installed"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  command -v pg_config >/dev/null || { log "installing libpq-dev (psycopg2 builds against it)"; apt-get install -y -q libpq-dev >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q libpq-dev >/dev/null; }; }
  if [[ ! -x "$CKAN_VENV/bin/python" ]]; then
    log "creating $CKAN_VENV"
    "$(command -v python3.11 || command -v python3)" -m venv "$CKAN_VENV"   # CKAN 2.12 needs Python >= 3.10
  fi
  UV="$ROOT/.venv/bin/uv"
  if [[ ! -x "$UV" ]]; then
    "$CKAN_VENV/bin/python" -m pip install -q --disable-pip-version-check uv==0.13.9
    UV="$CKAN_VENV/bin/uv"
  fi
  log "installing CKAN $CKAN_VERSION + extensions into $CKAN_VENV (uv)"
  "$UV" pip install -q -p "$CKAN_VENV/bin/python" \
    "ckan[requirements,dev]==$CKAN_VERSION" "ckanext-scheming==$SCHEMING_VERSION" \
    "ckanext-dcat==$DCAT_VERSION" "gunicorn==$GUNICORN_VERSION" "pytest-timeout" \
    "ckanext-harvest==$HARVEST_VERSION" "pyshacl==$PYSHACL_VERSION" "hypothesis==$HYPOTHESIS_VERSION"
  "$UV" pip install -q -p "$CKAN_VENV/bin/python" -e "$ROOT/ckan_ext"
  echo "$want" > "$stamp"
fi
[[ "${1:-}" == "--install-only" ]] && exit 0

# ---- 1b. compiled translations of ckanext-lgsp (the .po files are the source) -------------------------
for po in "$ROOT"/ckan_ext/ckanext/lgsp/i18n/*/LC_MESSAGES/ckanext-lgsp.po; do
  [[ -f "$po" ]] || continue
  mo="${po%.po}.mo"
  if [[ ! -f "$mo" || "$po" -nt "$mo" ]]; then
    "$CKAN_VENV/bin/pybabel" compile -i "$po" -o "$mo" >/dev/null 2>&1
  fi
done

# ---- 2. databases ------------------------------------------------------------------------------------
# A fresh var/ckan (no ckan.ini yet) has no stored resource files: a database of the same name left by an
# earlier checkout at this path would point at files that are gone, so it is dropped and made anew.
if [[ ! -f "$CKAN_INI" ]]; then
  for db in "$CKAN_DB" "${CKAN_DB}_test"; do
    if psql -U "$PGUSER_" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
      log "dropping stale database $db (left by an earlier checkout at this path)"
      psql -U "$PGUSER_" -d postgres -qc "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null
    fi
  done
fi
for db in "$CKAN_DB"; do
  if ! psql -U "$PGUSER_" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
    log "creating database $db"
    createdb -U "$PGUSER_" -E UTF8 -T template0 "$db"
  fi
done

# ---- 3. ckan.ini -------------------------------------------------------------------------------------
mkdir -p "$CKAN_DIR/storage" "$CKAN_DIR/log"
if [[ ! -f "$CKAN_INI" ]]; then
  log "generating $CKAN_INI (fresh secrets)"
  "$CKAN_VENV/bin/ckan" generate config "$CKAN_INI" >/dev/null
fi
# Re-applied on every run so a changed port or plugin list converges; secrets are left as generated.
"$CKAN_VENV/bin/ckan" config-tool "$CKAN_INI" \
  "sqlalchemy.url = postgresql://$PGUSER_@$PGHOST/$CKAN_DB" \
  "ckan.site_url = $CKAN_URL" \
  "ckan.site_id = lgsp" \
  "ckan.site_title = Cổng dữ liệu mở Cần Thơ (lgsp demo)" \
  "solr_url = $SOLR_URL" \
  "ckan.redis.url = redis://127.0.0.1:6379/$REDIS_DB" \
  "ckan.plugins = lgsp scheming_datasets activity dcat dcat_json_interface structured_data" \
  "scheming.dataset_schemas = ckanext.lgsp:schemas/dataset.yaml" \
  "scheming.presets = ckanext.scheming:presets.json ckanext.lgsp:schemas/presets.yaml" \
  "scheming.dataset_fallback = false" \
  "ckanext.dcat.rdf.profiles = euro_dcat_ap_2 lgsp_dcat" \
  "ckanext.dcat.enable_content_negotiation = false" \
  "ckanext.lgsp.publisher_user = lgsp_publisher" \
  "ckan.storage_path = $CKAN_DIR/storage" \
  "ckan.max_resource_size = 512" \
  "ckan.locale_default = vi" \
  "ckan.locales_offered = vi en" \
  "ckan.auth.create_user_via_web = false" \
  "ckan.datasets_per_page = 20" \
  "ckan.tracking_enabled = false" \
  "ckan.search.solr_commit = true" \
  "ckan.hide_activity_from_users = " \
  "ckan.activity_streams_email_notifications = false" >/dev/null
# The pytest ini for ckan_ext's own tests: same database server, own database and Solr core.
cat > "$CKAN_DIR/test-core.ini" <<INI
[app:main]
use = config:$CKAN_INI
sqlalchemy.url = postgresql://$PGUSER_@$PGHOST/${CKAN_DB}_test
solr_url = http://127.0.0.1:$SOLR_PORT/solr/ckan_test
ckan.redis.url = redis://127.0.0.1:6379/$((REDIS_DB + 1))
ckan.site_url = http://test.ckan.net
ckan.storage_path = $CKAN_DIR/storage-test
INI
if ! psql -U "$PGUSER_" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='${CKAN_DB}_test'" | grep -q 1; then
  createdb -U "$PGUSER_" -E UTF8 -T template0 "${CKAN_DB}_test"
fi

# ---- 4. schema + users + tokens ----------------------------------------------------------------------
ckan_cli() { "$CKAN_VENV/bin/ckan" -c "$CKAN_INI" "$@"; }
ckan_cli db upgrade >/dev/null 2>"$CKAN_DIR/log/db-init.log" || { cat "$CKAN_DIR/log/db-init.log" >&2; exit 1; }
ckan_cli db upgrade -p activity >/dev/null 2>>"$CKAN_DIR/log/db-init.log" || true

TOKENS="$CKAN_DIR/tokens.json"
ensure_user() {  # name email -> creates the user (random password) and makes it sysadmin
  local name="$1" email="$2"
  if ! ckan_cli user show "$name" 2>/dev/null | grep -q "name=$name"; then
    local pw; pw="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
    ckan_cli user add "$name" "email=$email" "password=$pw" >/dev/null 2>&1
  fi
  ckan_cli sysadmin add "$name" >/dev/null 2>&1 <<<"y" || true
}
# Tokens belong to one database: new ones are made when there are none or they were made for another database.
if [[ ! -s "$TOKENS" ]] || ! python3 - "$TOKENS" "$CKAN_DB" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d.get("admin") and d.get("publisher") and d.get("database") == sys.argv[2] else 1)
PY
then
  ensure_user lgsp_admin admin@lgsp.invalid
  ensure_user lgsp_publisher publisher@lgsp.invalid
  admin_token="$(ckan_cli user token add lgsp_admin lgsp-setup 2>/dev/null | tail -n1 | tr -d '[:space:]')"
  pub_token="$(ckan_cli user token add lgsp_publisher lgsp-pipeline 2>/dev/null | tail -n1 | tr -d '[:space:]')"
  umask 077
  printf '{"url": "%s", "database": "%s", "admin_user": "lgsp_admin", "admin": "%s", "publisher_user": "lgsp_publisher", "publisher": "%s"}\n' \
    "$CKAN_URL" "$CKAN_DB" "$admin_token" "$pub_token" > "$TOKENS"
  log "users lgsp_admin, lgsp_publisher and their API tokens -> $TOKENS"
fi
# Keep the URL in tokens.json in step with the configured port.
python3 - "$TOKENS" "$CKAN_URL" <<'PY'
import json, sys
path, url = sys.argv[1], sys.argv[2]
data = json.load(open(path))
if data.get("url") != url:
    data["url"] = url
    json.dump(data, open(path, "w"))
PY
log "CKAN ready to start: scripts/ckan/start.sh"
