#!/usr/bin/env bash
# Configures and builds one flavour of sockserv into build/<flavour>.
#   scripts/build.sh [release|asan|tsan|fuzz] [CMAKE ARGS...]    (default: release, with the tests)
# fuzz builds only the libFuzzer harnesses, with clang (the product itself builds with g++).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
flavour="${1:-release}"
[ $# -gt 0 ] && shift
targets=()
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=Release -DSOCKSERV_BUILD_TESTS=ON) ;;
  asan)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKSERV_SANITIZE=address -DSOCKSERV_BUILD_TESTS=ON) ;;
  tsan)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKSERV_SANITIZE=thread -DSOCKSERV_BUILD_TESTS=ON) ;;
  fuzz)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DSOCKSERV_SANITIZE=fuzzer
                 -DSOCKSERV_BUILD_TESTS=OFF -DSOCKSERV_INSTALL=OFF)
           targets=(--target fuzzers) ;;
  *) echo "build.sh: unknown flavour '$flavour' (release, asan, tsan or fuzz)" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$root/build/$flavour" -G Ninja "${args[@]}" "$@" >/dev/null
cmake --build "$root/build/$flavour" "${targets[@]}" -- -j"$(nproc)"
