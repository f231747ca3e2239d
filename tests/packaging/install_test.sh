#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then what a user of it does: build examples/ with
# find_package(sockserv) and run them, build one with pkg-config, compile each installed header on
# its own, and check the installed systemd units with systemd-analyze verify.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
. "$source/tests/packaging/common.sh"
work=$(mktemp -d /tmp/sockserv-install-XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
[ -x "$prefix/bin/http_server" ] || fail "no bin/http_server in the install"
[ -f "$prefix/share/man/man1/http_server.1" ] || fail "no man page for http_server"
grep -q "mode" "$prefix/share/man/man1/http_server.1" || fail "http_server.1 lacks the --mode option"

# Each installed header compiles alone: none relies on a header the install lacks.
(cd "$prefix/include" && ls sockserv/*.hpp) | xargs -P "$(nproc)" -I{} \
  sh -c "printf '#include <{}>\n' | g++ -std=c++20 -Wall -Wextra -Werror -fsyntax-only -I'$prefix/include' -x c++ - \
         || { echo 'installed header {} does not compile alone' >&2; exit 255; }"

# What makes a user's compile slow stays out of the umbrella header: Boost, <iostream>, <filesystem>.
heavy=$(printf '#include <sockserv/sockserv.hpp>\n' | g++ -std=c++20 -H -fsyntax-only -I"$prefix/include" -x c++ - 2>&1 \
          | grep -E '^\.+ .*(/boost/|/iostream$|/filesystem$)' || true)
[ -z "$heavy" ] || fail "sockserv.hpp includes: $heavy"

# The examples, as out-of-tree projects with find_package(sockserv 0.3), warnings as errors.
for example in word_tally udp_upper serve_modes; do
  cmake -S "$source/examples/$example" -B "$work/$example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" >/dev/null \
    || fail "configuring examples/$example against the install"
  cmake --build "$work/$example" >/dev/null || fail "building examples/$example"
done

"$work/word_tally/word_tally" >"$work/tally.out" 2>&1 &
pids+=($!)
port=$(wait_for_line "$work/tally.out" "on port [0-9]+" | grep -Eo "[0-9]+$")
expect "word_tally" "$(printf 'apple\npear\napple\n' | nc -N 127.0.0.1 "$port")" "$(printf 'apple 1\npear 1\napple 2')"
expect "word_tally, a second client" "$(printf 'apple\n' | nc -N 127.0.0.1 "$port")" "apple 3"

"$work/udp_upper/udp_upper" >"$work/upper.out" 2>&1 &
pids+=($!)
port=$(wait_for_line "$work/upper.out" "on port [0-9]+" | grep -Eo "[0-9]+$")
expect "udp_upper" "$(printf 'hello' | nc -u -w1 127.0.0.1 "$port")" "HELLO"

for mode in sync thread fork event; do
  "$work/serve_modes/greeter" --port 0 --mode "$mode" --greeting Hi 2>"$work/greeter.err" &
  pid=$!
  pids+=($pid)
  address=$(wait_for_line "$work/greeter.err" "serving on " | sed -E 's/.*serving on ([^ ]+) .*/\1/')
  expect "greeter --mode $mode" "$(printf 'Ann\n' | nc -N "${address%:*}" "${address##*:}")" "Hi, Ann!"
  kill -TERM "$pid"
  status=0
  wait "$pid" || status=$?
  expect "greeter --mode $mode exit status after SIGTERM" "$status" 0
done

# pkg-config, for projects without CMake.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
expect "pkg-config --modversion" "$(pkg-config --modversion sockserv)" "$(sed -nE 's/.*project\(sockserv VERSION ([0-9.]+).*/\1/p' "$source/CMakeLists.txt")"
# shellcheck disable=SC2046
g++ -std=c++20 -O2 "$source/examples/udp_upper/udp_upper.cpp" -o "$work/upper_pc" $(pkg-config --cflags --libs sockserv) \
  || fail "building with pkg-config"
"$work/upper_pc" >"$work/upper_pc.out" 2>&1 &
pids+=($!)
port=$(wait_for_line "$work/upper_pc.out" "on port [0-9]+" | grep -Eo "[0-9]+$")
expect "udp_upper built with pkg-config" "$(printf 'pc' | nc -u -w1 127.0.0.1 "$port")" "PC"

# The source tree as a subproject (FetchContent with SOURCE_DIR is add_subdirectory underneath):
# the same target, only the library built, nothing of the parent's build changed.
mkdir -p "$work/subproject"
cat >"$work/subproject/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.22)
project(uses_sockserv_source LANGUAGES CXX)
include(FetchContent)
FetchContent_Declare(sockserv SOURCE_DIR "$source")
FetchContent_MakeAvailable(sockserv)
add_executable(udp_upper "$source/examples/udp_upper/udp_upper.cpp")
target_link_libraries(udp_upper PRIVATE sockserv::sockserv)
CMAKE
cmake -S "$work/subproject" -B "$work/subproject/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null \
  || fail "configuring a project that takes sockserv with FetchContent"
cmake --build "$work/subproject/build" >"$work/subproject/build.log" || { cat "$work/subproject/build.log" >&2; fail "building it"; }
[ ! -e "$work/subproject/build/_deps/sockserv-build/apps" ] || fail "the subproject built sockserv's apps too"
"$work/subproject/build/udp_upper" >"$work/upper_sub.out" 2>&1 &
pids+=($!)
port=$(wait_for_line "$work/upper_sub.out" "on port [0-9]+" | grep -Eo "[0-9]+$")
expect "udp_upper built from the source tree" "$(printf 'sub' | nc -u -w1 127.0.0.1 "$port")" "SUB"

# The units: systemd-analyze verify reports a bad setting as a warning and still exits 0, so
# any output at all fails. (--man=no: the install's man pages are not on MANPATH.)
units=("$prefix"/lib/systemd/system/sockserv-*)
[ ${#units[@]} -eq 6 ] || fail "expected 6 systemd units, found ${#units[@]}"
mkdir -p /srv/http /srv/tftp 2>/dev/null || true
report=$(systemd-analyze verify --man=no "${units[@]}" 2>&1) || fail "systemd-analyze verify: $report"
[ -z "$report" ] || fail "systemd-analyze verify: $report"
grep -q "^ExecStart=$prefix/bin/http_server " "$prefix/lib/systemd/system/sockserv-http.service" \
  || fail "sockserv-http.service does not start the installed http_server"
echo "install test: passed"
