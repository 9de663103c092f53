#!/usr/bin/env bash
# Build the graph view: npm ci (exact versions from view/package-lock.json), then esbuild
# bundles view/src/main.js into vaultsync/server/static/bundle.js (gitignored; package data).
# Without Node.js/npm this says so and exits 0: vaultsync still installs and serves its
# API, and the page explains how to build the view.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
view="$here/view"
out="$here/vaultsync/server/static/bundle.js"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "build_view: Node.js and npm are not installed; skipping the graph view bundle." >&2
    echo "build_view: the API works without it; install Node.js >= 18 (e.g. apt-get install -y nodejs npm)" >&2
    echo "build_view: and run 'bash scripts/build_view.sh' again to build $out" >&2
    exit 0
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
    echo "build_view: Node.js $(node --version) is too old (esbuild needs >= 18); skipping." >&2
    exit 0
fi

cd "$view"
# --ignore-scripts: nothing runs at install time; esbuild's binary comes from its
# platform package (@esbuild/<os>-<arch>) in the lock file.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
./node_modules/.bin/esbuild src/main.js --bundle --minify --format=iife --target=es2020 \
    --legal-comments=eof --log-level=warning --outfile="$out"
echo "build_view: wrote $out ($(wc -c <"$out") bytes)"
