#!/usr/bin/env bash
# Set up vaultsync from nothing: a fresh virtualenv in .venv with the package and its
# test extras, and Debian's Chromium for the browser test (when run as root on a machine
# with apt-get). The graph view's bundle is committed: no Node.js needed here.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,datasette]'

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for the browser test"
    if ! { apt-get update -qq >/dev/null &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
      echo "setup: could not install chromium; the browser test will be skipped" >&2
    fi
  else
    echo "setup: chromium not found; the browser test will be skipped (apt-get install chromium)"
  fi
fi
echo "setup: done (.venv ready)"
