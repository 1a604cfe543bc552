# Shared settings for scripts/ckan/*.sh (sourced, not run). Everything CKAN-related lives under
# var/ckan/ (git-ignored): its venv, ckan.ini with generated secrets, tokens, pid and log files.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CKAN_DIR="${LGSP_CKAN_DIR:-$ROOT/var/ckan}"
CKAN_VENV="$CKAN_DIR/venv"
CKAN_INI="$CKAN_DIR/ckan.ini"
CKAN_VERSION="2.12.0"
SCHEMING_VERSION="3.1.0"
DCAT_VERSION="2.4.4"
GUNICORN_VERSION="23.0.0"
HARVEST_VERSION="1.6.3"   # ckanext-harvest: the second CKAN of the harvest test runs DCAT harvesting with it
PYSHACL_VERSION="0.40.1"  # DCAT-AP SHACL validation in ckan_ext's tests
HYPOTHESIS_VERSION="6.170.27"  # ckan_ext's fuzz tests; the same pin as lgsp's requirements.lock
# Ports: LGSP_CKAN_PORT / LGSP_SOLR_STANDIN_PORT if set, else a free pair chosen once per checkout and
# remembered in var/ckan/ports.env (so the URL in ckan.ini and tokens.json stays valid).
PORTS_FILE="$CKAN_DIR/ports.env"
if [[ -z "${LGSP_CKAN_PORT:-}" && -f "$PORTS_FILE" ]]; then source "$PORTS_FILE"; fi
if [[ -z "${LGSP_CKAN_PORT:-}" ]]; then
  read -r LGSP_CKAN_PORT LGSP_SOLR_STANDIN_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
  mkdir -p "$CKAN_DIR"
  printf 'LGSP_CKAN_PORT=%s\nLGSP_SOLR_STANDIN_PORT=%s\n' "$LGSP_CKAN_PORT" "$LGSP_SOLR_STANDIN_PORT" > "$PORTS_FILE"
fi
CKAN_PORT="$LGSP_CKAN_PORT"
SOLR_PORT="${LGSP_SOLR_STANDIN_PORT:-$((CKAN_PORT + 1))}"
CKAN_URL="http://127.0.0.1:$CKAN_PORT"
SOLR_URL="http://127.0.0.1:$SOLR_PORT/solr/ckan"
PGHOST="${LGSP_CKAN_PGHOST:-127.0.0.1}"
PGUSER_="${LGSP_CKAN_PGUSER:-postgres}"
# Databases are per checkout: a CKAN database holds resource records whose files live under this checkout's
# var/ckan/storage, so two checkouts (a developer's and CI's clone) must never share one.
CHECKOUT_ID="$(printf '%s' "$CKAN_DIR" | sha256sum | cut -c1-8)"
CKAN_DB="${LGSP_CKAN_DB:-lgsp_ckan_$CHECKOUT_ID}"
CKAN_DS_DB="${LGSP_CKAN_DATASTORE_DB:-lgsp_ckan_ds_$CHECKOUT_ID}"
REDIS_DB="${LGSP_CKAN_REDIS_DB:-7}"
export PGHOST
log() { printf '[ckan] %s\n' "$*" >&2; }
