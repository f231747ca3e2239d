#!/usr/bin/env bash
# The echo benchmark: 64-byte ping-pong at 1, 16 and 128 connections and a connect-echo-close rate,
# against echo_server in each mode (event: echo's default, one loop; event-2: two loops in one
# process; and as a pool: --workers 2 --mode sync, "prefork"), hand-written
# servers (a 2-process epoll server, thread-, fork-per-connection and 2-process prefork ones; its
# shape in sockserv is event-pool: --workers 2 --mode event --loops 1) and
# Python's socketserver, alternated within each round (common.sh's bench_run). Prints messages/s
# and connections/s, each server's ratio to the first (the hand-written epoll server by default),
# and the headline comparisons.
#   scripts/bench/echo.sh [SECONDS per window, default 3]
#   PYTHON=/usr/bin/python3 scripts/bench/echo.sh     (the Python to compare; default: python3)
#   LOADS="connrate 16" PAIRS=7 scripts/bench/echo.sh (only these loads, comma separated; connrate N:
#                                                     N connections at once, each connect-echo-close)
#   SERVERS="ref-epoll event" scripts/bench/echo.sh   (only these servers, anchor first)
#   OLD_BIN=../old/build/release/bin SERVERS="ref-epoll event old:event"   (an older build's too)
#   CPU=1 scripts/bench/echo.sh                       (also the CPU each message or connection cost
#                                                     the server's process tree and loadgen, in µs,
#                                                     among the notes)
# The load generator (loadgen) is one thread with one epoll: it takes one of the two cores at most,
# so the server under test always has the other (the loadgen before 0.4 ran a thread per
# connection, took both cores at c=128 and flattered the server that did more per message).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-3}"
python="${PYTHON:-python3}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

read -r -a servers <<<"${SERVERS:-ref-epoll event event-2 thread fork sync prefork reference ref-fork ref-prefork py-thread py-fork}"
IFS=, read -r -a loads <<<"${LOADS:-pingpong 1,pingpong 16,pingpong 128,connrate 16}"

command_of() {
  local at=$bin name=$1
  local loops=--loops
  # An older build (before 0.3) spells --loops --threads; this one still accepts both.
  if [ "${name#old:}" != "$name" ]; then at=${OLD_BIN:?OLD_BIN names the older build\'s bin folder}; name=${name#old:}; loops=--threads; fi
  case "$name" in
    ref-epoll)   echo "$bin/reference_epoll_echo 2" ;;
    reference)   echo "$bin/reference_echo" ;;
    ref-fork)    echo "$bin/reference_echo --fork" ;;
    ref-prefork) echo "$bin/reference_echo --prefork 2" ;;
    event)       echo "$at/echo_server --port 0 --mode event" ;;  # echo's default loops (one)
    event-2)     echo "$at/echo_server --port 0 --mode event $loops 2" ;;
    event-pool)  echo "$at/echo_server --port 0 --workers 2 --mode event $loops 1" ;;
    thread)      echo "$at/echo_server --port 0 --mode thread" ;;
    fork)        echo "$at/echo_server --port 0 --mode fork" ;;
    sync)        echo "$at/echo_server --port 0 --mode sync" ;;
    prefork)     echo "$at/echo_server --port 0 --mode sync --workers 2" ;;
    py-thread)   echo "$python $root/scripts/bench/py_echo.py thread" ;;
    py-fork)     echo "$python $root/scripts/bench/py_echo.py fork" ;;
    *) echo "bench: unknown server '$1'" >&2; return 1 ;;
  esac
}

bench_measure() {  # SERVER "pingpong|connrate CONNECTIONS"
  local line result kind conns
  read -r kind conns <<<"$2"
  line=$(command_of "$1")
  # shellcheck disable=SC2086
  start_server $line >&2 || return 1
  local before after
  before=$(tree_cpu_ticks "$server_pid")
  # `times` in the subshell: loadgen's own CPU (the subshell's children's), on its last line.
  result=$("$bin/loadgen" "$kind" 127.0.0.1 "$port" "$conns" "$seconds"; times)
  after=$(tree_cpu_ticks "$server_pid")
  stop_server
  local cpu=""
  [ "${CPU:-0}" = 1 ] && cpu=" $(cpu_note "$before" "$after" "$(sed -E 's/.*operations=([0-9]+).*/\1/;t;d' <<<"$result")" "$(tail -1 <<<"$result")" loadgen operation)"
  result=$(head -1 <<<"$result")
  # RATE, and a note when some connections never got an answer.
  local served
  served=$(sed -E 's/.*served=([0-9]+)\/([0-9]+).*/\1 \2/' <<<"$result")
  echo "$(sed -E 's/^[a-z]+ ([0-9]+)\/s.*/\1/' <<<"$result")$(awk '$1 != $2 { printf " served only %d of %d", $1, $2 }' <<<"$served")$cpu"
}

has() { [[ " ${servers[*]} " == *" $1 "* ]] && [[ " ${servers[*]} " == *" $2 "* ]] && [[ " ${loads[*]} " == *"$3"* ]]; }
headline() {  # TITLE A B LOAD
  has "$2" "$3" "$4" && echo "$1: $(bench_ratio "$2" "$4" "$3")x"
  return 0
}

bench_run
echo "python: $("$python" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
bench_table "/s"
echo
headline "event (echo's default, one loop) vs the hand-written 2-process epoll server, ping-pong c=16" event ref-epoll "pingpong 16"
headline "event (echo's default, one loop) vs the hand-written 2-process epoll server, ping-pong c=128" event ref-epoll "pingpong 128"
headline "event (echo's default, one loop) vs the hand-written 2-process epoll server, connection rate" event ref-epoll "connrate 16"
headline "event-2 (2 loops in one process) vs the hand-written 2-process epoll server, ping-pong c=128" event-2 ref-epoll "pingpong 128"
headline "event-pool (2 processes, 1 loop each) vs the hand-written 2-process epoll server, ping-pong c=128" event-pool ref-epoll "pingpong 128"
headline "thread vs the hand-written thread-per-connection server, ping-pong c=16" thread reference "pingpong 16"
headline "thread vs the hand-written thread-per-connection server, connection rate" thread reference "connrate 16"
headline "fork vs the hand-written fork server, connection rate" fork ref-fork "connrate 16"
headline "fork vs Python fork, connection rate" fork py-fork "connrate 16"
headline "prefork (--workers 2 --mode sync) vs the hand-written 2-process prefork server, connection rate" prefork ref-prefork "connrate 16"
headline "prefork vs Python fork, connection rate" prefork py-fork "connrate 16"
exit 0
