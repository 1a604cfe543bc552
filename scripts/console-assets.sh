#!/usr/bin/env bash
# The console's one front-end library, uPlot (charts), fetched from the npm registry at a pinned version, checked
# against its published sha512 integrity, and copied into the package (lgsp/console/static/vendor, not in git).
# Never fetched at run time. Idempotent: does nothing when the files are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.6.32
INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
DEST=lgsp/console/static/vendor
if [ -f "$DEST/uPlot.iife.min.js" ] && [ -f "$DEST/.version" ] && [ "$(cat "$DEST/.version")" = "$VERSION" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "console-assets: npm is needed to fetch uPlot $VERSION" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$VERSION" >/dev/null)
tarball="$work/uplot-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "console-assets: uplot-$VERSION.tgz integrity mismatch: $actual" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$DEST"
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$work/package/LICENSE" "$DEST/"
echo "$VERSION" > "$DEST/.version"
echo "console-assets: uPlot $VERSION installed in $DEST"
