#!/usr/bin/env bash
# Build the graph view: npm ci (exact versions from view/package-lock.json), the API types
# from the server's OpenAPI document (docs/openapi.json, by openapi-typescript, as the
# Obsidian plugin's), a strict type check (tsc --noEmit), then esbuild bundles
# view/src/main.ts into vaultsync/server/static/bundle.js, and the licences of the
# bundled packages go to vaultsync/server/static/THIRD-PARTY-LICENSES.txt.
#
# Both files are committed, so every install (a checkout, a wheel, an sdist) has the view
# without Node.js; Node is needed only to change the view. After editing view/src, run
# this and commit the two files. The build is reproducible: the same lock file and
# sources give the same bytes.
#
#   bash scripts/build_view.sh           rebuild view/src/api-types.ts and the committed files
#   bash scripts/build_view.sh --check   rebuild into a temporary folder and fail when the
#                                        committed files differ, the API types are not
#                                        those of docs/openapi.json, or the type check
#                                        fails (CI: a change of the server's shapes that
#                                        the view was not updated for fails here); without
#                                        Node.js and npm it says so and skips
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
view="$here/view"
static="$here/vaultsync/server/static"
check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: bash scripts/build_view.sh [--check]" >&2; exit 2 ;;
esac

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$check" = 1 ]; then
        echo "build_view: --check skipped: Node.js and npm are not installed, so the" \
             "committed bundle was not compared with a rebuild"
        exit 0
    fi
    echo "build_view: Node.js and npm are not installed; the committed bundle stays as it is." >&2
    echo "build_view: to change the view install Node.js >= 18 (e.g. apt-get install -y nodejs npm)" >&2
    exit 1
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
    echo "build_view: Node.js $(node --version) is too old (esbuild needs >= 18)." >&2
    exit 1
fi

out="$static"
if [ "$check" = 1 ]; then
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi

cd "$view"
# --ignore-scripts: nothing runs at install time; esbuild's binary comes from its
# platform package (@esbuild/<os>-<arch>) in the lock file.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
# The one OpenAPI document (docs/openapi.json; build_plugin.sh --check keeps it current)
# is the source of the view's API types.
types="$(mktemp)"
./node_modules/.bin/openapi-typescript "$here/docs/openapi.json" --output "$types" --silent >/dev/null
if [ "$check" = 1 ]; then
    if ! cmp -s "$types" src/api-types.ts; then
        rm -f "$types"
        echo "build_view: view/src/api-types.ts differs from the types generated from" \
             "docs/openapi.json: run 'bash scripts/build_view.sh' and commit it" >&2
        exit 1
    fi
    rm -f "$types"
else
    mv "$types" src/api-types.ts
fi
./node_modules/.bin/tsc -p tsconfig.json
meta="$(mktemp)"
./node_modules/.bin/esbuild src/main.ts --bundle --minify --format=iife --target=es2020 \
    --legal-comments=eof --log-level=warning --metafile="$meta" \
    --banner:js="/*! vaultsync graph view (Apache-2.0). Bundled packages and their licences: THIRD-PARTY-LICENSES.txt */" \
    --outfile="$out/bundle.js"
python3 "$here/scripts/view_licenses.py" "$meta" node_modules "$out/THIRD-PARTY-LICENSES.txt"
rm -f "$meta"

if [ "$check" = 1 ]; then
    status=0
    for name in bundle.js THIRD-PARTY-LICENSES.txt; do
        if ! cmp -s "$out/$name" "$static/$name"; then
            echo "build_view: vaultsync/server/static/$name differs from a rebuild of view/" \
                 "with the locked packages: run 'bash scripts/build_view.sh' and commit it" >&2
            status=1
        fi
    done
    [ "$status" = 0 ] && echo "build_view: --check: the committed bundle matches a rebuild"
    exit "$status"
fi
echo "build_view: wrote $out/bundle.js ($(wc -c <"$out/bundle.js") bytes) and THIRD-PARTY-LICENSES.txt"
