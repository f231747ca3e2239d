#!/usr/bin/env bash
# The chat benchmark: 100 members on loopback, messages sent round-robin from them at a paced rate
# that steps up until the server loses any; for chat_server in each mode and, in the same run, a
# Python chat server in the spirit of the original notes (py_chat.py), alternated within each round
# (common.sh's bench_run; PAIRS defaults to 3 here: a measurement is a whole search). Reports the
# delivered messages/s at the highest rate sustained with zero loss (one message reaching one
# member counts one), and each server's ratio to the first (Python by default).
#   scripts/bench/chat.sh [SECONDS per step, default 2] [MEMBERS, default 100]
#   SERVERS="python event sync" PAIRS=5 scripts/bench/chat.sh
# The Redis hop (issue: chat rooms across nodes): event is one node with the local room; redis1 the
# same node with its room on a redis-server started for the step (every member on it: what
# publishing costs); redis3 three nodes (event mode, one loop each) sharing the room, the members
# spread over them.
#   SERVERS="event redis1 redis3" scripts/bench/chat.sh
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
  [redis1]="$bin/chat_server --port 0 --mode event --loops 2 --no-admin"
  [redis3]="$bin/chat_server --port 0 --mode event --loops 1 --no-admin"
)
declare -A node_count=([redis1]=1 [redis3]=3)
for name in event event-1 sync thread fork; do command[$name+c]="${command[$name]} --coalesce"; done
steps=(250 500 1000 1500 2000 3000 4000 6000 8000 10000 15000 20000 25000 30000 40000 50000 60000)

# start_redis_room NODES SERVER: a redis-server on a free port and NODES chat_server nodes in one
# room on it, each once it has joined the room; sets $ports (comma-separated) and $redis_pid.
start_redis_room() {
  local nodes=$1 server=$2 redis_port log i
  redis_port=$(free_port)
  log=$(mktemp)
  bench_logs+=("$log")
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --logfile '' >"$log" 2>&1 &
  redis_pid=$!
  bench_pids+=("$redis_pid")
  for _ in $(seq 1 100); do grep -q "Ready to accept" "$log" && break; sleep 0.05; done
  ports="" node_pids=()
  for i in $(seq 1 "$nodes"); do
    # shellcheck disable=SC2086
    start_server ${command[$server]} --room "redis://127.0.0.1:$redis_port/bench" </dev/null >&2 || return 1
    node_pids+=("$server_pid")
    for _ in $(seq 1 100); do grep -q "joined room" "${bench_logs[-1]}" && break; sleep 0.05; done
    ports+="${ports:+,}$port"
  done
}
stop_redis_room() {
  local pid
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  kill -TERM "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
}

# One measurement: the step search, each step on a fresh server (no members or backlog left over);
# prints the delivered messages/s at the highest zero-loss step, and that step's send rate.
bench_measure() {  # SERVER MEMBERS
  local server=$1 step result loss best=0 delivered=0
  for step in "${steps[@]}"; do
    if [ -n "${node_count[$server]:-}" ]; then
      start_redis_room "${node_count[$server]}" "$server" || return 1
      result=$("$bin/chat_load" 127.0.0.1 "$ports" "$members" "$((step * seconds))" "$step")
      stop_redis_room
    else
      # shellcheck disable=SC2086
      start_server ${command[$server]} </dev/null >&2 || return 1
      result=$("$bin/chat_load" 127.0.0.1 "$port" "$members" "$((step * seconds))" "$step")
      stop_server
    fi
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
