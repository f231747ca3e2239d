#!/usr/bin/env bash
# The echo benchmark: 64-byte ping-pong at 1, 16 and 128 connections and a connect-echo-close rate,
# against echo_server in each mode (and as a pool: --workers 2 --mode sync, "prefork"), hand-written
# thread- and fork-per-connection servers, a hand-written 2-process prefork server and a
# hand-written 2-process epoll server, and Python's socketserver, in one run. Prints messages/s and connections/s with ratios.
#   scripts/bench/echo.sh [SECONDS per window, default 5] [ROUNDS, default 3]
#   PYTHON=/usr/bin/python3 scripts/bench/echo.sh     (the Python to compare; default: python3)
#   LOADS="connrate 4" scripts/bench/echo.sh 3 7      (only these loads, comma separated)
#   SERVERS="event ref-epoll" scripts/bench/echo.sh   (only these servers)
#
# Why rounds: on a shared 2-core VM the same server's rate drifts by 20-30% within minutes, so one
# window per server compares moments, not servers. Every round runs every server once per load,
# interleaved, and the table shows each server's median; the headline ratios are the medians of
# the ratios taken within each round (the two servers measured a few seconds apart).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-5}"
rounds="${2:-3}"
python="${PYTHON:-python3}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

read -r -a servers <<<"${SERVERS:-reference thread ref-fork fork sync ref-prefork prefork ref-epoll event py-thread py-fork}"
declare -A command=(
  [ref-epoll]="$bin/reference_epoll_echo 2"
  [event]="$bin/echo_server --port 0 --mode event --loops 2"
  [reference]="$bin/reference_echo"
  [ref-fork]="$bin/reference_echo --fork"
  [thread]="$bin/echo_server --port 0 --mode thread"
  [fork]="$bin/echo_server --port 0 --mode fork"
  [sync]="$bin/echo_server --port 0 --mode sync"
  [prefork]="$bin/echo_server --port 0 --mode sync --workers 2"
  [ref-prefork]="$bin/reference_echo --prefork 2"
  [py-thread]="$python $root/scripts/bench/py_echo.py thread"
  [py-fork]="$python $root/scripts/bench/py_echo.py fork"
)
IFS=, read -r -a loads <<<"${LOADS:-pingpong 1,pingpong 16,pingpong 128,connrate 4}"
declare -A rates served last  # rates: one figure per round, space separated

for round in $(seq 1 "$rounds"); do
  for load in "${loads[@]}"; do
    for server in "${servers[@]}"; do
      # A fresh server for every window, so one load's leftovers never slow the next.
      # shellcheck disable=SC2086
      start_server ${command[$server]}
      set -- $load
      result=$("$bin/loadgen" "$1" 127.0.0.1 "$port" "$2" "$seconds")
      stop_server
      rates[$server,$load]+="$(sed -E 's/^[a-z]+ ([0-9]+)\/s.*/\1/' <<<"$result") "
      served[$server,$load]+="$(sed -E 's/.*served=([0-9]+)\/[0-9]+.*/\1/' <<<"$result") "
      last[$server,$load]+="$(grep -oE 'last_first_answer=[0-9]+' <<<"$result" | cut -d= -f2 || echo never) "
      echo "  round $round: $server / $load: $result" >&2
    done
  done
done

# median [FORMAT]: of the numbers on standard input (printf FORMAT, default whole numbers).
median() {
  tr ' ' '\n' | { grep -v '^$' || true; } | sort -n |
    awk -v f="${1:-%.0f}" '{ v[NR] = $1 } END { printf f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
minimum() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -n | head -1; }
maximum() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -n | tail -1; }
# round_ratios A B LOAD: A's rate over B's, round by round.
round_ratios() {
  paste -d' ' <(tr ' ' '\n' <<<"${rates[$1,$3]}" | grep -v '^$') <(tr ' ' '\n' <<<"${rates[$2,$3]}" | grep -v '^$') |
    awk '{ if ($2 > 0) printf "%.2f ", $1 / $2 }'
}
# headline A B LOAD: "MEDIAN (MIN-MAX over N rounds)" of the round-by-round ratios.
headline() {
  local r
  [ -n "${rates[$1,$3]:-}" ] || { echo "(not measured)"; return; }
  r=$(round_ratios "$1" "$2" "$3")
  echo "$(median %.2f <<<"$r")x ($(minimum <<<"$r")-$(maximum <<<"$r")x over $rounds rounds)"
}

echo
echo "python: $("$python" -c 'import sys; print(sys.executable, sys.version.split()[0])'); $rounds rounds of $seconds s windows; medians"
printf '%-12s' "server"
for load in "${loads[@]}"; do printf '%24s' "$load"; done
echo
for server in "${servers[@]}"; do
  printf '%-12s' "$server"
  for load in "${loads[@]}"; do
    r=$(median <<<"${rates[$server,$load]}")
    ref=$(median <<<"${rates[reference,$load]:-}")
    printf '%14s %4sx %4s' "$r/s" "$(ratio "$r" "$ref")" "$(minimum <<<"${served[$server,$load]}")"
  done
  echo
done
echo
echo "columns: median rate, its ratio to the hand-written reference's, fewest connections that got an answer in any round"
echo -n "128 simultaneous clients, when the last one served got its first answer (ms, each round):"
for server in "${servers[@]}"; do echo -n " $server ${last[$server,pingpong 128]:-not measured}"; done
echo
echo "fork vs Python fork, connection rate: $(headline fork py-fork "connrate 4")"
echo "  the hand-written fork server vs Python fork: $(headline ref-fork py-fork "connrate 4")"
echo "  fork mode vs the hand-written fork server: $(headline fork ref-fork "connrate 4")"
echo "prefork (--workers 2 --mode sync) vs Python fork, connection rate: $(headline prefork py-fork "connrate 4")"
echo "  prefork vs the hand-written 2-process prefork server: $(headline prefork ref-prefork "connrate 4")"
echo "event (2 loops) vs the hand-written 2-process epoll server: ping-pong c=128 $(headline event ref-epoll "pingpong 128"), connection rate $(headline event ref-epoll "connrate 4")"
echo "thread vs reference: ping-pong c=16 $(headline thread reference "pingpong 16"), connection rate $(headline thread reference "connrate 4")"
