#!/usr/bin/env bash
# Configures and builds one flavour of sockserv into build/<flavour>.
#   scripts/build.sh [release|asan|tsan] [CMAKE ARGS...]    (default: release, with the tests)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
flavour="${1:-release}"
[ $# -gt 0 ] && shift
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKSERV_SANITIZE=address) ;;
  tsan)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKSERV_SANITIZE=thread) ;;
  *) echo "build.sh: unknown flavour '$flavour' (release, asan or tsan)" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$root/build/$flavour" -G Ninja "${args[@]}" -DSOCKSERV_BUILD_TESTS=ON "$@" >/dev/null
cmake --build "$root/build/$flavour" -- -j"$(nproc)"
