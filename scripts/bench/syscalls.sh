#!/usr/bin/env bash
# The system-call budget: what each server asks of the kernel per request, under load. perf stat
# counts every system call the server makes (its syscall tracepoints, in the kernel: the timing
# barely changes, unlike strace, under which the client is always ahead and a read never finds
# the socket empty) while a client keeps it busy for SECONDS, and the table shows calls per request,
# by call, ours beside the peers': http_server in event mode beside nginx (2 workers,
# open_file_cache on), echo_server in event mode beside the hand-written 2-process epoll echo server.
# "EAGAIN reads" are the reads that found nothing (a read that ends in EAGAIN before a wait).
#   scripts/bench/syscalls.sh [SECONDS, default 3]
#   SERVERS="event pool nginx"  ECHO_SERVERS="echo ref-epoll"  CONNECTIONS=16
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-3}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin
command -v perf >/dev/null || { echo "syscalls.sh: perf is not installed (scripts/setup.sh)" >&2; exit 1; }
raise_fd_limit

work=$(mktemp -d)
trap 'cleanup; rm -rf "$work"' EXIT
mkdir -p "$work/site" "$work/nginx"
head -c 1024 /dev/urandom >"$work/site/1k.bin"
chmod 755 "$work" "$work/site"
chmod 644 "$work/site/"*
read -r -a http_servers <<<"${SERVERS:-event pool nginx}"
read -r -a echo_servers <<<"${ECHO_SERVERS:-echo ref-epoll}"
conns="${CONNECTIONS:-16}"

start() {
  case "$1" in
    nginx)     start_nginx 2 "$work/site" "$work/nginx" ;;
    event)     start_server "$bin/http_server" 0 -b 127.0.0.1 -d "$work/site" --mode event --loops 2 ;;
    pool)      start_server "$bin/http_server" 0 -b 127.0.0.1 -d "$work/site" --workers 2 --mode event --loops 1 ;;
    thread)    start_server "$bin/http_server" 0 -b 127.0.0.1 -d "$work/site" --mode thread ;;
    echo)      start_server "$bin/echo_server" --port 0 --mode event --loops 2 ;;
    ref-epoll) start_server "$bin/reference_epoll_echo" 2 ;;
    *) echo "syscalls.sh: unknown server '$1'" >&2; return 1 ;;
  esac
}

# measure SERVER LOAD: prints "CALL CALLS_PER_REQUEST" lines, "EAGAIN-reads N" and "total N".
measure() {
  local server=$1 load=$2 pids out requests
  start "$server" >&2
  # The server and its children (nginx's and the pool's workers), every thread of each.
  pids=$(echo "$server_pid" $(pgrep -P "$server_pid") | tr ' ' ',')
  out="$work/perf.$server.$load"
  perf stat -x, -o "$out" -e 'syscalls:sys_enter_*' -e syscalls:sys_exit_recvfrom --filter 'ret == -11' -p "$pids" &
  local perf_pid=$!
  # perf attaches at once, but says nothing: its output file appears when it has.
  for _ in $(seq 1 100); do [ -s "$out" ] && break; sleep 0.05; done
  requests=$(drive "$load" "$conns" "$seconds")
  kill -INT "$perf_pid"
  wait "$perf_pid" 2>/dev/null || true
  stop_server
  # perf stat -x,: "COUNT,,EVENT,..." per event.
  awk -F, -v n="$requests" '$3 ~ /^syscalls:/ && $1 ~ /^[0-9]+$/ && $1 > 0 {
      c = $3; sub(/^syscalls:sys_/, "", c)
      if (c ~ /^exit_recvfrom/) { printf "EAGAIN-reads %.2f\n", $1 / n; next }
      sub(/^enter_/, "", c); t += $1; printf "%s %.2f\n", c, $1 / n }
    END { printf "total %.2f\n", t / n; printf "requests %d\n", n }' "$out"
}

# table TITLE LOAD SERVERS...
table() {
  local title=$1 load=$2 server call line
  shift 2
  declare -A per=()
  local calls=""
  for server in "$@"; do
    while read -r call rate; do
      per[$server,$call]=$rate
      [[ " $calls " == *" $call "* ]] || calls+=" $call"
    done < <(measure "$server" "$load")
  done
  echo
  printf '%-22s' "$title"
  for server in "$@"; do printf '%10s' "$server"; done
  echo
  for call in $(tr ' ' '\n' <<<"$calls" | grep -vE '^(total|requests|EAGAIN-reads)?$' | sort) EAGAIN-reads total requests; do
    line=$(printf '  %-20s' "$call")
    for server in "$@"; do line+=$(printf '%10s' "${per[$server,$call]:--}"); done
    echo "$line"
  done
}

echo "system calls per request, $conns connections, ${seconds}s of load (perf stat of syscall tracepoints)"
table "http 1 KiB keep-alive" keep "${http_servers[@]}"
table "http 1 KiB close" close "${http_servers[@]}"
table "echo ping-pong" pingpong "${echo_servers[@]}"
table "echo connection" connrate "${echo_servers[@]}"
