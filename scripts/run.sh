#!/usr/bin/env bash
# Installs what is missing, builds, and runs one sockserv program.
#   scripts/run.sh [APP] [ARGS...]
# APP is a program name (echo_server, ...) or its short form (echo). With no APP it runs the
# project's main server on the current folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh" build
# The programs only: the tests (and Catch2) are scripts/test.sh's.
"$root/scripts/build.sh" release -DSOCKSERV_BUILD_TESTS=OFF >&2

app=""
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then  # a first argument that is not an option names the app
  app="$1"
  shift
fi
if [ -z "$app" ]; then
  if [ -x "$root/build/release/bin/http_server" ]; then app=http_server; else app=echo_server; fi
fi
[ -x "$root/build/release/bin/$app" ] || app="${app}_server"
if [ ! -x "$root/build/release/bin/$app" ]; then
  echo "run.sh: no program '$app'; built: $(ls "$root/build/release/bin" | grep -v _tests | tr '\n' ' ')" >&2
  exit 2
fi
exec "$root/build/release/bin/$app" "$@"
