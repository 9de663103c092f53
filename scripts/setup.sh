#!/usr/bin/env bash
# Set up vaultsync from nothing: a fresh virtualenv in .venv with the package and its
# test extras, a second small one in .venv-datasette1 with Datasette 1.0 (an alpha) for
# the Datasette plugin's tests, and Debian's Chromium for the browser test (when run as
# root on a machine with apt-get), and fuse3 likewise for the case-insensitive file
# system test. The graph view's bundle is committed: no Node.js
# needed here.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Datasette 1.0 release the plugin's tests run against beside 0.65 (in .venv).
DATASETTE_1_REQUIREMENT="datasette==1.0a41"

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,datasette]'

# Only what tests/test_datasette.py needs, installed by .venv's pip from its cache and
# not byte-compiled ahead: a few seconds more, not a second full set-up.
if python3 -m venv --without-pip .venv-datasette1 &&
   .venv/bin/python -m pip --python .venv-datasette1/bin/python install --quiet \
     --no-compile --disable-pip-version-check -e '.[test-datasette]' \
     "$DATASETTE_1_REQUIREMENT"; then
  echo "setup: .venv-datasette1 ready ($DATASETTE_1_REQUIREMENT for tests/test_datasette.py)"
else
  rm -rf .venv-datasette1
  echo "setup: could not build .venv-datasette1 ($DATASETTE_1_REQUIREMENT); the" \
       "Datasette 1.0 tests will be skipped" >&2
fi

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
# FUSE for the case-insensitive file system of tests/test_platforms.py (tests/casefs.py).
if ! command -v fusermount3 >/dev/null 2>&1 && [ "$(id -u)" = 0 ] &&
   command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing Debian's fuse3 for the case-insensitive file system test"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3 >/dev/null; then
    echo "setup: could not install fuse3; the case-insensitive file system test will be" \
         "skipped" >&2
  fi
fi
echo "setup: done (.venv ready)"
