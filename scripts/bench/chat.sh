#!/usr/bin/env bash
# The chat benchmark: 100 members on loopback, messages sent round-robin from them at a paced rate
# that steps up until the server loses any; for chat_server in each mode and, in the same run, the
# course notes' Python server (py_chat.py). Reports the highest rate each sustained with zero loss,
# the delivered messages/s there (one message reaching one member counts one), and the ratios.
#   scripts/bench/chat.sh [SECONDS per step, default 2] [MEMBERS, default 100]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-2}"
members="${2:-100}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

# NAME+c: the same server with --coalesce (several lines to a datagram); without, one line each.
read -r -a servers <<<"${SERVERS:-sync sync+c thread thread+c fork fork+c event event+c python}"
declare -A command=(
  [event]="$bin/chat_server --port 0 --mode event --loops 2 --no-admin"
  [event-1]="$bin/chat_server --port 0 --mode event --loops 1 --no-admin"
  [sync]="$bin/chat_server --port 0 --mode sync --no-admin"
  [thread]="$bin/chat_server --port 0 --mode thread --no-admin"
  [fork]="$bin/chat_server --port 0 --mode fork --no-admin"
  [python]="python3 $root/scripts/bench/py_chat.py"
)
for name in event event-1 sync thread fork; do command[$name+c]="${command[$name]} --coalesce"; done
rates=(250 500 1000 1500 2000 3000 4000 6000 8000 10000 15000 20000 25000 30000 40000 50000 60000)
declare -A best_rate best_delivered

for server in "${servers[@]}"; do
  best_rate[$server]=0
  best_delivered[$server]=0
  for rate in "${rates[@]}"; do
    # A fresh server for every step: no members or backlog left over from the last one.
    # shellcheck disable=SC2086
    start_server ${command[$server]} </dev/null
    result=$("$bin/chat_load" 127.0.0.1 "$port" "$members" "$((rate * seconds))" "$rate")
    stop_server
    echo "  $server @ $rate msg/s: $result" >&2
    loss=$(sed -E 's/.*loss=([0-9.]+)%.*/\1/' <<<"$result")
    if [ "$loss" != "0.000" ]; then break; fi
    best_rate[$server]=$rate
    best_delivered[$server]=$(sed -E 's/.*rate=([0-9]+)\/s.*/\1/' <<<"$result")
  done
done

echo
printf '%-8s %22s %26s %12s\n' server "zero-loss msg/s sent" "delivered msg/s (x$((members - 1)))" "vs python"
for server in "${servers[@]}"; do
  printf '%-8s %22s %26s %11sx\n' "$server" "${best_rate[$server]}" "${best_delivered[$server]}" \
    "$(awk -v a="${best_delivered[$server]}" -v b="${best_delivered[python]}" 'BEGIN{ printf (b>0? "%.2f" : "-"), a/b }')"
done
echo
echo "members=$members, ${seconds}s per step; a step counts only if every message reached every other member"
