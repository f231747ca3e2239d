#!/usr/bin/env bash
# The echo benchmark: 64-byte ping-pong at 1, 16 and 128 connections and a connect-echo-close rate,
# against echo_server in each mode, a hand-written thread-per-connection reference, and Python's
# socketserver, in one run. Prints messages/s and connections/s with ratios.
#   scripts/bench/echo.sh [SECONDS per measurement, default 5]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-5}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

servers=(reference thread ref-fork fork sync py-thread py-fork)
declare -A command=(
  [reference]="$bin/reference_echo"
  [ref-fork]="$bin/reference_echo --fork"
  [thread]="$bin/echo_server --port 0 --mode thread"
  [fork]="$bin/echo_server --port 0 --mode fork"
  [sync]="$bin/echo_server --port 0 --mode sync"
  [py-thread]="python3 $root/scripts/bench/py_echo.py thread"
  [py-fork]="python3 $root/scripts/bench/py_echo.py fork"
)
loads=("pingpong 1" "pingpong 16" "pingpong 128" "connrate 4")
declare -A rate served last

for server in "${servers[@]}"; do
  for load in "${loads[@]}"; do
    # A fresh server for every load, so one load's leftovers never slow the next.
    # shellcheck disable=SC2086
    start_server ${command[$server]}
    set -- $load
    result=$("$bin/loadgen" "$1" 127.0.0.1 "$port" "$2" "$seconds")
    stop_server
    rate[$server,$load]=$(sed -E 's/^[a-z]+ ([0-9]+)\/s.*/\1/' <<<"$result")
    served[$server,$load]=$(sed -E 's/.*served=([0-9]+\/[0-9]+).*/\1/' <<<"$result")
    last[$server,$load]=$(grep -oE 'last_first_answer=[0-9]+ms' <<<"$result" | cut -d= -f2 || true)
    echo "  $server / $load: $result" >&2
  done
done

echo
printf '%-12s' "server"
for load in "${loads[@]}"; do printf '%24s' "$load"; done
echo
for server in "${servers[@]}"; do
  printf '%-12s' "$server"
  for load in "${loads[@]}"; do
    r=${rate[$server,$load]}
    ref=${rate[reference,$load]}
    printf '%14s %4sx %4s' "$r/s" "$(awk -v a="$r" -v b="$ref" 'BEGIN{ printf (b>0? "%.2f" : "-"), a/b }')" \
      "${served[$server,$load]%%/*}"
  done
  echo
done
echo
echo "columns: rate, ratio to the hand-written reference, connections that got an answer"
echo -n "128 simultaneous clients, when the last one served got its first answer:"
for server in "${servers[@]}"; do echo -n " $server ${last[$server,pingpong 128]:-never}"; done
echo
echo "fork vs Python fork, connection rate: $(awk -v a="${rate[fork,connrate 4]}" -v b="${rate[py-fork,connrate 4]}" 'BEGIN{ printf "%.1fx", a/b }') (the hand-written fork server: $(awk -v a="${rate[ref-fork,connrate 4]}" -v b="${rate[py-fork,connrate 4]}" 'BEGIN{ printf "%.1fx", a/b }'); fork mode / hand-written fork: $(awk -v a="${rate[fork,connrate 4]}" -v b="${rate[ref-fork,connrate 4]}" 'BEGIN{ printf "%.2f", a/b }'))"
echo "thread vs reference: ping-pong c=16 $(awk -v a="${rate[thread,pingpong 16]}" -v b="${rate[reference,pingpong 16]}" 'BEGIN{ printf "%.2f", a/b }'), connection rate $(awk -v a="${rate[thread,connrate 4]}" -v b="${rate[reference,connrate 4]}" 'BEGIN{ printf "%.2f", a/b }')"
