#!/usr/bin/env bash
# http through HAProxy: what the proxy costs against going direct, and 1 backend against 3. wrk
# fetches a 1 KiB file with keep-alive or a connection per request; servers alternate within each
# round (common.sh's bench_run); ratios are to going direct.
#   scripts/bench/haproxy.sh [SECONDS per measurement, default 3]
#   SERVERS="direct proxy1 proxy3"   direct: one http_server --workers 2 --mode event --loops 1;
#                                    proxyN: HAProxy (TCP mode, send-proxy-v2, nbthread 1) in front
#                                    of N such servers with --proxy-protocol
#   LOADS="1k 16 keep,1k 128 keep,1k 16 close,1k 128 close"
#   PAIRS=5
# Every process here shares the machine's two cores with wrk: a second or third backend adds no
# CPU, only processes competing for the same two, so "3 backends" measures what spreading costs.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-3}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

raise_fd_limit

work=$(mktemp -d)
trap 'cleanup; rm -rf "$work"' EXIT
mkdir -p "$work/site"
head -c 1024 /dev/urandom >"$work/site/1k.bin"

read -r -a servers <<<"${SERVERS:-direct proxy1 proxy3}"
IFS=, read -r -a loads <<<"${LOADS:-1k 16 keep,1k 128 keep,1k 16 close,1k 128 close}"

backend_pids=()
start_backend() {  # [--proxy-protocol]: sets $port
  start_server "$bin/http_server" 0 -b 127.0.0.1 -d "$work/site" --idle-timeout 120 --workers 2 --mode event \
    --loops 1 "$@"
  backend_pids+=("$server_pid")
}

start() {
  backend_pids=()
  case "$1" in
    direct) start_backend ;;
    proxy*)
      local count=${1#proxy} i front
      cat >"$work/haproxy.cfg" <<CFG
global
  maxconn 4000
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
backend back
  balance roundrobin
CFG
      for i in $(seq 1 "$count"); do
        start_backend --proxy-protocol
        echo "  server s$i 127.0.0.1:$port send-proxy-v2" >>"$work/haproxy.cfg"
      done
      front=$(free_port)
      printf 'frontend front\n  bind 127.0.0.1:%s\n  default_backend back\n' "$front" >>"$work/haproxy.cfg"
      haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
      server_pid=$!
      bench_pids+=("$server_pid")
      port=$front
      for _ in $(seq 1 200); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/1k.bin" && return 0
        sleep 0.05
      done
      echo "bench: haproxy did not start: $(cat "$work/haproxy.log")" >&2
      return 1 ;;
    *) echo "bench: unknown server '$1'" >&2; return 1 ;;
  esac
}

stop_all() {
  local pid
  stop_server
  for pid in "${backend_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}

bench_measure() {  # SERVER "FILE CONNECTIONS keep|close"
  local file conns how out header=()
  read -r file conns how <<<"$2"
  [ "$how" = close ] && header=(-H "Connection: close")
  start "$1" >&2 || return 1
  out=$(wrk -t2 -c"$conns" -d"${seconds}s" --timeout 10s "${header[@]}" "http://127.0.0.1:$port/$file.bin" 2>&1 || true)
  stop_all
  echo "$(wrk_rate <<<"$out") $(wrk_errors <<<"$out")"
}

bench_run
bench_table "req/s"
echo "loads: FILE CONNECTIONS keep (keep-alive) | close (Connection: close)"
exit 0
