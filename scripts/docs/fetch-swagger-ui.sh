#!/usr/bin/env bash
# Fetch Swagger UI's assets for the gateway's /docs from the npm registry: a pinned version, checked
# against the registry's published sha512 integrity before anything is unpacked (no CDN at run time).
# Usage: scripts/docs/fetch-swagger-ui.sh [DEST]   (default var/swagger-ui; the gateway reads LGSP_DOCS_ASSETS)
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=5.32.1
INTEGRITY="sha512-6HQoo7+j8PA2QqP5kgAb9dl1uxUjvR0SAoL/WUp1sTEvm0F6D5npgU2OGCLwl++bIInqGlEUQ2mpuZRZYtyCzQ=="
DEST=${1:-var/swagger-ui}
FILES=(swagger-ui-bundle.js swagger-ui.css favicon-32x32.png)
if [[ -f "$DEST/.version" && "$(cat "$DEST/.version")" == "$VERSION" ]]; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null)
tarball="$work/swagger-ui-dist-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$actual" != "$INTEGRITY" ]]; then
  echo "swagger-ui-dist $VERSION: integrity mismatch ($actual)" >&2
  exit 1
fi
mkdir -p "$DEST"
for f in "${FILES[@]}"; do
  tar -xzf "$tarball" -C "$work" "package/$f"
  cp "$work/package/$f" "$DEST/$f"
done
echo "$VERSION" > "$DEST/.version"
echo "swagger-ui-dist $VERSION -> $DEST"
