#!/usr/bin/env bash
# Refetch uPlot, the Leaks view's chart library, from the npm registry into
# locust/leaks_ui/vendor/uplot/ (committed: the talk needs no network).
# Usage: scripts/vendor-uplot.sh [version]   (default: the version vendored now)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/locust/leaks_ui/vendor/uplot"
current=$(head -c 200 "$dest/uPlot.iife.min.js" | sed -n 's/.*(v\([0-9.]*\)).*/\1/p')
version="${1:-$current}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$version" >/dev/null && tar xzf "uplot-$version.tgz")
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" \
   "$work/package/LICENSE" "$dest/"
echo "uPlot $version in $dest"
