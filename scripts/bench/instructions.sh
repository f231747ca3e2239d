#!/usr/bin/env bash
# Instructions per request in user space, counted by callgrind: what the server's own code (and the
# C library's) costs per request, apart from the kernel. A rate on these machines moves 20-30% in
# a minute; this count moves well under 1% between runs, so it sees a 5% change in our code's work
# that no alternating run can (it says nothing of cache misses or the kernel: the rates do). Each
# server runs under valgrind with one loop while the client loads it for SECONDS; what the same
# server costs to start and stop (measured alone first) is taken off before dividing.
#   scripts/bench/instructions.sh [SECONDS, default 4]
#   OLD_BIN=../old/build/release/bin scripts/bench/instructions.sh   (an older build beside this one)
#   LOADS="echo pingpong,http keep,http close"
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-4}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed (scripts/setup.sh)" >&2; exit 1; }

work=$(mktemp -d)
trap 'cleanup; rm -rf "$work"' EXIT
mkdir -p "$work/site"
head -c 1024 /dev/urandom >"$work/site/1k.bin"
IFS=, read -r -a loads <<<"${LOADS:-echo pingpong,http keep,http close}"
builds=("$bin")
[ -n "${OLD_BIN:-}" ] && builds+=("$OLD_BIN")

# instructions_start BIN_DIR APP: starts APP under callgrind; sets $server_pid, $port and $profile.
instructions_start() {
  profile="$work/callgrind.$RANDOM"
  local command=(valgrind --tool=callgrind --log-file="$profile.log" --callgrind-out-file="$profile")
  case "$2" in
    echo) start_server "${command[@]}" "$1/echo_server" --port 0 --mode event --loops 1 ;;
    http) start_server "${command[@]}" "$1/http_server" 0 -b 127.0.0.1 -d "$work/site" --mode event --loops 1 ;;
  esac
}

# Sets $counted: the total the profile counted (callgrind writes it when the server has exited; in
# this shell, not a $(...) one, whose wait would not be the server's parent's).
instructions_stop() {
  kill -INT "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  counted=$(awk '/^(summary|totals):/ { print $2; exit }' "$profile")
}

# measure BIN_DIR APP LOAD: prints instructions per request.
measure() {
  local at=$1 app=$2 load=$3 idle total requests
  instructions_start "$at" "$app" >&2
  instructions_stop
  idle=$counted
  instructions_start "$at" "$app" >&2
  requests=$(drive "$load" 16 "$seconds")
  instructions_stop
  total=$counted
  awk -v t="$total" -v i="$idle" -v n="$requests" 'BEGIN { if (n > 0) printf "%.0f\n", (t - i) / n; else print "-" }'
}

echo "user-space instructions per request (callgrind), 16 connections, ${seconds}s of load, one loop"
printf '%-22s' ""
for at in "${builds[@]}"; do printf '%12s' "$([ "$at" = "$bin" ] && echo this || echo OLD_BIN)"; done
[ ${#builds[@]} -gt 1 ] && printf '%10s' "this/old"
echo
for item in "${loads[@]}"; do
  read -r app load <<<"$item"
  counts=()
  for at in "${builds[@]}"; do counts+=("$(measure "$at" "$app" "$load")"); done
  printf '%-22s' "$app $load"
  for count in "${counts[@]}"; do printf '%12s' "$count"; done
  [ ${#counts[@]} -gt 1 ] && awk -v a="${counts[0]}" -v b="${counts[1]}" 'BEGIN { if (b > 0) printf "%10.2f", a / b }'
  echo
done
