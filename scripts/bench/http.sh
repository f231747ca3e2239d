#!/usr/bin/env bash
# The http benchmark: wrk fetching a file with keep-alive or a connection per request, against
# http_server in each shape and its peers, alternated within each round (common.sh's bench_run);
# prints requests/s and each server's ratio to the first (the anchor, nginx with 2 workers by
# default). Then, with RSS=1, what event mode, the pool and nginx hold for 9,000 connections that
# never sent a byte and for 9,000 idle keep-alive ones (LOADS="" RSS=1: only that).
#   scripts/bench/http.sh [SECONDS per measurement, default 3]
#   SERVERS="nginx event pool thread fork sync python"      the servers, anchor first
#   LOADS="1k 16 keep,1k 128 keep,...,64k 128 keep"       (the default: c=16, 128, 1,000, 10,000)
#   PAIRS=5                                                 rounds
#   OLD_BIN=../old/build/release/bin SERVERS="nginx event old:event thread old:thread"
#                                                           an older build's programs beside these
#   SERVERS="event event+metrics"                           NAME+metrics: NAME with --metrics on (its cost)
#   SERVERS="nginx-deferred event+defer"                    NAME+defer: NAME with --defer-accept
#   CPU=1                                                   also the CPU each request cost the server
#                                                           (its process tree, user + system) and
#                                                           wrk, in µs, among the notes
# Servers: event (2 loops in one process), event-1 (one loop), pool (--workers 2 --mode event
# --loops 1: nginx's shape), thread, fork, sync, python (http.server), nginx (NGINX_WORKERS, default
# 2), nginx-deferred (the same with `listen ... deferred`: TCP_DEFER_ACCEPT, as --defer-accept sets
# it), nginx-reuseport (`listen ... reuseport`: a listener per worker), nginx-buffered (the same
# with `access_log ... buffer=4k flush=1s`: its access lines gathered, as event mode gathers ours),
# and ref-http, the ceiling rather than a server: a hand-written 2-process epoll loop answering
# every request with the file from memory, no parsing, no file system, no log
# (reference_epoll_http.cpp; ref-http+defer with TCP_DEFER_ACCEPT, ref-http+reuseport with a
# listener per process). Every server but ref-http logs each request to a file, nginx included:
# the same work for each.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-3}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

# 10,000 connections need as many fds in wrk and in each server (twice, on loopback).
raise_fd_limit

work=$(mktemp -d)
trap 'cleanup; rm -rf "$work"' EXIT
mkdir -p "$work/site" "$work/nginx"
head -c 1024 /dev/urandom >"$work/site/1k.bin"
head -c 65536 /dev/urandom >"$work/site/64k.bin"
# nginx's workers drop root's privileges: the files must be readable by anyone.
chmod 755 "$work" "$work/site"
chmod 644 "$work/site/"*

read -r -a servers <<<"${SERVERS:-nginx event pool thread}"
IFS=, read -r -a loads <<<"${LOADS-1k 16 keep,1k 128 keep,1k 1000 keep,1k 10000 keep,1k 16 close,1k 128 close,1k 1000 close,1k 10000 close,64k 16 keep,64k 128 keep}"
limit=$(( $(ulimit -n) - 200 ))

# command SERVER: the command line of one of ours; "old:NAME" is NAME from $OLD_BIN.
command_of() {
  local at=$bin name=$1 extra=""
  local loops=--loops
  if [ "${name%+metrics}" != "$name" ]; then name=${name%+metrics}; extra=" --metrics 0"; fi
  if [ "${name%+defer}" != "$name" ]; then name=${name%+defer}; extra+=" --defer-accept"; fi
  # An older build (before 0.3) spells --loops --threads; this one still accepts both.
  if [ "${name#old:}" != "$name" ]; then at=${OLD_BIN:?OLD_BIN names the older build\'s bin folder}; name=${name#old:}; loops=--threads; fi
  # The ceiling, not a server: the load's file from memory (reference_epoll_http.cpp; $file is
  # bench_measure's).
  if [ "${name%+reuseport}" = ref-http ]; then
    echo "$bin/reference_epoll_http $work/site/${file:-1k}.bin 2${extra:+ deferred}$([ "$name" != ref-http ] && echo " reuseport")"
    return
  fi
  local http="$at/http_server 0 -b 127.0.0.1 -d $work/site --idle-timeout 120"
  case "$name" in
    event)  echo "$http --mode event $loops 2 --max-connections $limit" ;;
    event-1) echo "$http --mode event $loops 1 --max-connections $limit" ;;
    pool)   echo "$http --workers 2 --mode event $loops 1 --max-connections $limit" ;;
    thread) echo "$http --mode thread --max-threads 20000" ;;
    fork)   echo "$http --mode fork --max-children 20000" ;;
    sync)   echo "$http --mode sync" ;;
    python) echo "python3 -u -m http.server 0 --bind 127.0.0.1 --directory $work/site" ;;
    *) echo "bench: unknown server '$1'" >&2; return 1 ;;
  esac | sed "s|\$|$extra|"
}

start() {
  if [ "$1" = nginx ]; then start_nginx "${NGINX_WORKERS:-2}" "$work/site" "$work/nginx"
  elif [ "$1" = nginx-deferred ]; then NGINX_LISTEN=deferred start_nginx "${NGINX_WORKERS:-2}" "$work/site" "$work/nginx"
  elif [ "$1" = nginx-reuseport ]; then NGINX_LISTEN=reuseport start_nginx "${NGINX_WORKERS:-2}" "$work/site" "$work/nginx"
  elif [ "$1" = nginx-buffered ]; then NGINX_LOG_BUFFER=4k start_nginx "${NGINX_WORKERS:-2}" "$work/site" "$work/nginx"; else
    local line
    line=$(command_of "$1")
    # shellcheck disable=SC2086
    start_server $line
  fi
}

bench_measure() {  # SERVER "FILE CONNECTIONS keep|close"
  local file conns how out header=() threads=2
  read -r file conns how <<<"$2"
  [ "$how" = close ] && header=(-H "Connection: close")
  [ "$conns" -lt 2 ] && threads=1
  start "$1" >&2 || return 1
  local before after
  before=$(tree_cpu_ticks "$server_pid")
  # `times` in the subshell: wrk's own CPU (the subshell's children's), on its last line.
  out=$(wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s "${header[@]}" "http://127.0.0.1:$port/$file.bin" 2>&1 || true; times)
  after=$(tree_cpu_ticks "$server_pid")
  stop_server
  local cpu=""
  [ "${CPU:-0}" = 1 ] && cpu=$(cpu_note "$before" "$after" "$(awk '/requests in/ { print $1 }' <<<"$out")" "$(tail -1 <<<"$out")" wrk request)
  echo "$(wrk_rate <<<"$out") $(wrk_errors <<<"$out")$cpu"
}

if [ ${#loads[@]} -gt 0 ]; then
  bench_run
  bench_table "req/s"
  echo "loads: FILE CONNECTIONS keep (keep-alive) | close (Connection: close)"
fi

# What a server holds for 9,000 connections that never sent a byte (port checks, preconnects,
# slow clients), and for 9,000 idle keep-alive connections that each fetched one file: the RSS of
# its whole process tree, alternated as the rates are (RSS_PAIRS rounds), and the ratio to nginx.
# (9,000: the hard fd limit here is 20,000 and each connection is an fd in the client and one in
# the server.)
hold_idle() { "$bin/loadgen" idle 127.0.0.1 "$port" "${HOLD:-9000}"; }
hold_keep_alive() { "$bin/loadgen" hold 127.0.0.1 "$port" "${HOLD:-9000}" "GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n"; }
if [ "${RSS:-0}" = 1 ]; then
  echo
  declare -A held
  for round in $(seq 1 "${RSS_PAIRS:-3}"); do
    for what in idle keep; do
      for server in nginx event pool; do
        holder=hold_idle
        [ "$what" = keep ] && holder=hold_keep_alive
        line=$(rss_holding "$what" "$server" "$holder")
        echo "  round $round: $line" >&2
        held[$server,$what]+="$(sed -E 's/.*: [a-z]+ ([0-9]+) KiB.*/\1/' <<<"$line") "
      done
    done
  done
  for what in idle keep; do
    [ "$what" = idle ] && echo "RSS of the process tree holding ${HOLD:-9000} connections that never sent a byte:"
    [ "$what" = keep ] && echo "RSS of the process tree holding ${HOLD:-9000} idle keep-alive connections (one request each):"
    for server in nginx event pool; do
      ratios=$(paste -d' ' <(tr ' ' '\n' <<<"${held[$server,$what]}" | grep -v '^$') <(tr ' ' '\n' <<<"${held[nginx,$what]}" | grep -v '^$') |
        awk '{ if ($2 > 0) printf "%.3f ", $1 / $2 }')
      printf '  %-8s %8s KiB   x%s of nginx\n' "$server" "$(bench_median <<<"${held[$server,$what]}")" \
        "$(bench_median %.2f <<<"$ratios") ($(tr ' ' '\n' <<<"$ratios" | grep -v '^$' | sort -g | head -1)-$(tr ' ' '\n' <<<"$ratios" | grep -v '^$' | sort -g | tail -1))"
    done
  done
fi
exit 0
