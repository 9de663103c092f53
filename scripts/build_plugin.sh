#!/usr/bin/env bash
# Build the Obsidian plugin: the API types from the server's OpenAPI document, a strict
# type check, then esbuild bundles plugin/src/main.ts into vaultsync/obsidian_plugin/main.js
# beside a copy of plugin/manifest.json and plugin/styles.css. That folder is package
# data (what `vaultsync obsidian install` copies into a vault), committed, so users
# never need Node.js. The build is reproducible: the same lock file and sources give
# the same bytes.
#
#   bash scripts/build_plugin.sh           rebuild docs/openapi.json, plugin/src/api-types.ts
#                                          and vaultsync/obsidian_plugin/*
#   bash scripts/build_plugin.sh --check   rebuild into a temporary folder and fail when a
#                                          committed file differs (CI: a change of the
#                                          server's shapes that the plugin was not rebuilt
#                                          for fails here); without Node.js it says so and skips
#
# PYTHON (default: .venv/bin/python, else python3) must import vaultsync.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
plugin="$here/plugin"
package="$here/vaultsync/obsidian_plugin"
check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: bash scripts/build_plugin.sh [--check]" >&2; exit 2 ;;
esac
python="${PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x "$here/.venv/bin/python" ]; then python="$here/.venv/bin/python"; else python=python3; fi
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$check" = 1 ]; then
        echo "build_plugin: --check skipped: Node.js and npm are not installed, so the" \
             "committed plugin was not compared with a rebuild"
        exit 0
    fi
    echo "build_plugin: Node.js and npm are not installed; the committed plugin stays as it is." >&2
    echo "build_plugin: to change the plugin install Node.js >= 18 (e.g. apt-get install -y nodejs npm)" >&2
    exit 1
fi

out="$package"
gen="$plugin"
if [ "$check" = 1 ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    out="$tmp/package"
    gen="$tmp/gen"
    mkdir -p "$out" "$gen/src"
fi

cd "$plugin"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
# The one OpenAPI document (docs/openapi.json) is the source of the plugin's API types.
(cd "$here" && "$python" scripts/dump_openapi.py --out "$gen/openapi.json" >/dev/null)
./node_modules/.bin/openapi-typescript "$gen/openapi.json" --output "$gen/src/api-types.ts" \
    --silent >/dev/null
if [ "$check" = 1 ]; then
    if ! cmp -s "$gen/openapi.json" "$here/docs/openapi.json"; then
        echo "build_plugin: docs/openapi.json differs from the server's OpenAPI document:" \
             "run 'bash scripts/build_plugin.sh' and commit it" >&2
        exit 1
    fi
    if ! cmp -s "$gen/src/api-types.ts" "$plugin/src/api-types.ts"; then
        echo "build_plugin: plugin/src/api-types.ts differs from the types generated from" \
             "docs/openapi.json: run 'bash scripts/build_plugin.sh' and commit it" >&2
        exit 1
    fi
else
    mv "$gen/openapi.json" "$here/docs/openapi.json"
fi
./node_modules/.bin/tsc -p tsconfig.json
mkdir -p "$out"
# The one bundled package's licence goes at the end of main.js, as its notice requires.
notice="$(printf '/*! Bundled: eventsource-parser (MIT).\n%s\n*/' \
    "$(sed 's#\*/#* /#g' node_modules/eventsource-parser/LICENSE)")"
./node_modules/.bin/esbuild src/main.ts --bundle --minify --format=cjs --platform=node \
    --target=es2020 --external:obsidian --external:electron --legal-comments=eof \
    --log-level=warning \
    --banner:js="/*! vaultsync Obsidian plugin (Apache-2.0); bundles eventsource-parser (MIT) */" \
    --footer:js="$notice" \
    --outfile="$out/main.js"
cp manifest.json styles.css "$out/"

if [ "$check" = 1 ]; then
    status=0
    for name in main.js manifest.json styles.css; do
        if ! cmp -s "$out/$name" "$package/$name"; then
            echo "build_plugin: vaultsync/obsidian_plugin/$name differs from a rebuild of" \
                 "plugin/ with the locked packages: run 'bash scripts/build_plugin.sh' and commit it" >&2
            status=1
        fi
    done
    [ "$status" = 0 ] && echo "build_plugin: --check: the committed plugin matches a rebuild"
    exit "$status"
fi
echo "build_plugin: wrote $out/main.js ($(wc -c <"$out/main.js") bytes), manifest.json, styles.css"
