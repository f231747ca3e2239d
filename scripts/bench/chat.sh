#!/usr/bin/env bash
# The chat benchmark: 100 members on loopback, messages sent round-robin from them at a paced rate
# that steps up until the server loses any; for chat_server in each mode and, in the same run, a
# Python chat server in the spirit of the original notes (py_chat.py), alternated within each round
# (common.sh's bench_run; PAIRS defaults to 3 here: a measurement is a whole search). Reports the
# delivered messages/s at the highest rate sustained with zero loss (one message reaching one
# member counts one), and each server's ratio to the first (Python by default).
#   scripts/bench/chat.sh [SECONDS per step, default 2] [MEMBERS, default 100]
#   SERVERS="python event sync" PAIRS=5 scripts/bench/chat.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-2}"
members="${2:-100}"
PAIRS=${PAIRS:-3}
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

# NAME+c: the same server with --coalesce (several lines to a datagram); without, one line each.
read -r -a servers <<<"${SERVERS:-python sync sync+c thread thread+c fork fork+c event event+c}"
declare -A command=(
  [event]="$bin/chat_server --port 0 --mode event --loops 2 --no-admin"
  [event-1]="$bin/chat_server --port 0 --mode event --loops 1 --no-admin"
  [sync]="$bin/chat_server --port 0 --mode sync --no-admin"
  [thread]="$bin/chat_server --port 0 --mode thread --no-admin"
  [fork]="$bin/chat_server --port 0 --mode fork --no-admin"
  [python]="python3 $root/scripts/bench/py_chat.py"
)
for name in event event-1 sync thread fork; do command[$name+c]="${command[$name]} --coalesce"; done
steps=(250 500 1000 1500 2000 3000 4000 6000 8000 10000 15000 20000 25000 30000 40000 50000 60000)

# One measurement: the step search, each step on a fresh server (no members or backlog left over);
# prints the delivered messages/s at the highest zero-loss step, and that step's send rate.
bench_measure() {  # SERVER MEMBERS
  local server=$1 step result loss best=0 delivered=0
  for step in "${steps[@]}"; do
    # shellcheck disable=SC2086
    start_server ${command[$server]} </dev/null >&2 || return 1
    result=$("$bin/chat_load" 127.0.0.1 "$port" "$members" "$((step * seconds))" "$step")
    stop_server
    loss=$(sed -E 's/.*loss=([0-9.]+)%.*/\1/' <<<"$result")
    [ "$loss" != "0.000" ] && break
    best=$step
    delivered=$(sed -E 's/.*rate=([0-9]+)\/s.*/\1/' <<<"$result")
  done
  echo "$delivered zero-loss-at=$best"
}

loads=("$members")
bench_run
bench_table "delivered msg/s"
echo "members=$members, ${seconds}s per step; a step counts only if every message reached every other member;"
echo "delivered: messages that reached a member, per second (one line to $((members - 1)) members counts $((members - 1)))"
exit 0
