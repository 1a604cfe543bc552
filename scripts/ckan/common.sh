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
CKAN_PORT="${LGSP_CKAN_PORT:-5055}"
SOLR_PORT="${LGSP_SOLR_STANDIN_PORT:-8984}"
CKAN_URL="http://127.0.0.1:$CKAN_PORT"
SOLR_URL="http://127.0.0.1:$SOLR_PORT/solr/ckan"
PGHOST="${LGSP_CKAN_PGHOST:-127.0.0.1}"
PGUSER_="${LGSP_CKAN_PGUSER:-postgres}"
CKAN_DB="${LGSP_CKAN_DB:-lgsp_ckan}"
CKAN_DS_DB="${LGSP_CKAN_DATASTORE_DB:-lgsp_ckan_datastore}"
REDIS_DB="${LGSP_CKAN_REDIS_DB:-7}"
export PGHOST
log() { printf '[ckan] %s\n' "$*" >&2; }
