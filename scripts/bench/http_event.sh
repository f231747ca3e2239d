#!/usr/bin/env bash
# The event-mode http benchmark: wrk fetching a 1 KiB file with keep-alive at 16, 128, 1,000 and
# 10,000 connections and with a connection per request at 16 and 128, against http_server in
# event mode (2 loops in one process), a pool of 2 event-mode workers of 1 loop each (nginx's
# shape: --workers 2 --mode event --loops 1), thread and fork mode, and nginx with 2 workers, in one run; then the RSS of
# event mode and of nginx holding 10,000 idle keep-alive connections. Prints requests/s, socket
# errors and the ratios to nginx.
#   scripts/bench/http_event.sh [SECONDS per measurement, default 5]
#   SERVERS="event nginx" LOADS="16 keep,10000 keep" scripts/bench/http_event.sh 3
# Every server logs each request to a file, nginx included: the same work for each.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-5}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

# 10,000 connections need as many fds in wrk and in each server (twice, on loopback).
ulimit -Hn 65536 2>/dev/null || true  # root may raise the hard limit
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 15000 ] || { echo "bench: the fd limit $(ulimit -n) is too low for 10,000 connections" >&2; exit 1; }

work=$(mktemp -d)
trap 'cleanup; rm -rf "$work"' EXIT
mkdir -p "$work/site" "$work/nginx"
head -c 1024 /dev/urandom >"$work/site/1k.bin"
chmod 755 "$work" "$work/site"
chmod 644 "$work/site/"*


start() {
  if [ "$1" = nginx ]; then start_nginx 2 "$work/site" "$work/nginx"; else
    # shellcheck disable=SC2086
    start_server ${command[$1]}
  fi
}

# The RSS (KiB) of a server and its children: nginx's master and workers, our one process.
tree_rss() {
  local total=0 pid
  for pid in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

read -r -a servers <<<"${SERVERS:-event pool thread fork nginx}"
declare -A command=(
  [event]="$bin/http_server 0 -b 127.0.0.1 -d $work/site --mode event --loops 2 --idle-timeout 120 --max-connections $(( $(ulimit -n) - 200 ))"
  [pool]="$bin/http_server 0 -b 127.0.0.1 -d $work/site --workers 2 --mode event --loops 1 --idle-timeout 120 --max-connections $(( $(ulimit -n) - 200 ))"
  [thread]="$bin/http_server 0 -b 127.0.0.1 -d $work/site --mode thread --idle-timeout 120 --max-threads 20000"
  [fork]="$bin/http_server 0 -b 127.0.0.1 -d $work/site --mode fork --idle-timeout 120 --max-children 20000"
)
IFS=, read -r -a loads <<<"${LOADS:-16 keep,128 keep,1000 keep,10000 keep,16 close,128 close}"
declare -A rate errors

for load in "${loads[@]}"; do
  for server in "${servers[@]}"; do
    start "$server"
    set -- $load
    header=()
    [ "$2" = close ] && header=(-H "Connection: close")
    threads=2
    [ "$1" -lt 2 ] && threads=1
    out=$(wrk -t"$threads" -c"$1" -d"${seconds}s" --timeout 10s "${header[@]}" "http://127.0.0.1:$port/1k.bin" 2>&1 || true)
    stop_server
    rate[$server,$load]=$(wrk_rate <<<"$out")
    errors[$server,$load]=$(wrk_errors <<<"$out")
    echo "  $server / $load: ${rate[$server,$load]:-0} req/s ${errors[$server,$load]}" >&2
  done
done

# 10,000 idle keep-alive connections, each having fetched one file: what the server holds for them.
declare -A rss
if [ "${RSS:-1}" = 1 ]; then
  for server in event pool nginx; do
    [ -n "${command[$server]:-}" ] || [ "$server" = nginx ] || continue
    start "$server"
    before=$(tree_rss "$server_pid")
    "$bin/loadgen" hold 127.0.0.1 "$port" 10000 "GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n" >"$work/hold.log" 2>&1 &
    holder=$!
    for _ in $(seq 1 600); do grep -q "^holding" "$work/hold.log" 2>/dev/null && break; sleep 0.1; done
    # Idle for a while, as held connections are: event mode gives back the stack pages an idle
    # fiber's request touched after a second or two (both servers get the same wait).
    sleep 3
    rss[$server]=$(( $(tree_rss "$server_pid") - before ))
    rss[$server,total]=$(tree_rss "$server_pid")
    echo "  $server: holding $(cat "$work/hold.log"); RSS $before KiB -> ${rss[$server,total]} KiB" >&2
    kill "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
    stop_server
  done
fi

echo
printf '%-8s' "server"
for load in "${loads[@]}"; do printf '%22s' "$load"; done
echo
for server in "${servers[@]}"; do
  printf '%-8s' "$server"
  for load in "${loads[@]}"; do
    r=${rate[$server,$load]:-0}
    printf '%14s %6sxN' "$r" "$(ratio "$r" "${rate[nginx,$load]:-0}")"
  done
  echo
done
echo
echo "columns: requests/s (1 KiB file), ratio to nginx with 2 workers (xN); keep = keep-alive, close = Connection: close"
for server in "${servers[@]}"; do
  for load in "${loads[@]}"; do
    [ -n "${errors[$server,$load]:-}" ] && echo "errors: $server / $load: ${errors[$server,$load]}"
  done
done
if [ "${RSS:-1}" = 1 ]; then
  echo "RSS holding 10,000 idle keep-alive connections: event ${rss[event,total]} KiB (+${rss[event]}), pool ${rss[pool,total]} KiB (+${rss[pool]}), nginx-2w ${rss[nginx,total]} KiB (+${rss[nginx]}): event $(ratio "${rss[event,total]}" "${rss[nginx,total]}")x, pool $(ratio "${rss[pool,total]}" "${rss[nginx,total]}")x"
fi
exit 0
