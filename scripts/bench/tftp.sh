#!/usr/bin/env bash
# The tftp benchmark: a 100 MiB download with curl and atftp at blksize 512, 1428, 8192 and 65464,
# and with windowsize (atftp), against tftp_server and tftpd-hpa (Debian's in.tftpd, started here
# on a loopback port, the anchor); then the TCP service's get of the same file against a plain cat
# over a loopback socket (nc). Servers alternated within each round (common.sh's bench_run; PAIRS
# defaults to 3 here). Prints MiB/s and the ratios.
#   scripts/bench/tftp.sh [MiB, default 100]
#   SERVERS="tftpd-hpa thread" LOADS="curl 1428,atftp 65464 w2" PAIRS=5 scripts/bench/tftp.sh 50
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mib="${1:-100}"
PAIRS=${PAIRS:-3}
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

work=$(mktemp -d)
trap 'cleanup; rm -rf "$work"' EXIT
mkdir -p "$work/site" "$work/out"
head -c $((mib * 1024 * 1024)) /dev/urandom >"$work/site/big.bin"
echo ready >"$work/site/probe.txt"
# in.tftpd drops to the "tftp" user: the files must be readable by anyone.
chmod 755 "$work" "$work/site"
chmod 644 "$work/site/big.bin" "$work/site/probe.txt"

start_tftpd_hpa() {
  port=$(free_port udp)
  # -L: stay in the foreground; -s: serve the directory as the root; -a: the loopback port only.
  /usr/sbin/in.tftpd -L -s -a "127.0.0.1:$port" "$work/site" &
  server_pid=$!
  bench_pids+=("$server_pid")
  for _ in $(seq 1 100); do
    timeout 2 curl -sf -o /dev/null "tftp://127.0.0.1:$port/probe.txt" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: in.tftpd did not start" >&2
  return 1
}

# seconds COMMAND...: wall time of one run.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; echo 0; return; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
rate() { awk -v s="$1" -v m="$mib" 'BEGIN { if (s > 0) printf "%.1f", m / s; else printf "0" }'; }
check() { cmp -s "$1" "$work/site/big.bin" || echo "bench: $2 delivered a different file" >&2; rm -f "$1"; }

IFS=, read -r -a loads <<<"${LOADS:-curl 512,curl 1428,curl 8192,curl 65464,atftp 512,atftp 1428,atftp 8192,atftp 65464,atftp 1428 w16,atftp 8192 w8,atftp 65464 w2}"
run_load() {  # client blksize [wWINDOW]
  local out="$work/out/big.bin" window=""
  [ $# -ge 3 ] && window=${3#w}
  if [ "$1" = curl ]; then
    seconds curl -sS --max-time 300 --tftp-blksize "$2" -o "$out" "tftp://127.0.0.1:$port/big.bin"
  else
    local options=(--option "blksize $2")
    [ -n "$window" ] && options+=(--option "windowsize $window")
    seconds atftp "${options[@]}" -g -r big.bin -l "$out" 127.0.0.1 "$port"
  fi
  check "$out" "$1 $2"
}

read -r -a servers <<<"${SERVERS:-tftpd-hpa thread fork event}"
bench_measure() {  # SERVER LOAD
  if [ "$1" = tftpd-hpa ]; then start_tftpd_hpa >&2; else
    start_server "$bin/tftp_server" --port 0 -d "$work/site" --mode "$1" --no-tcp >&2
  fi
  # shellcheck disable=SC2086
  local t
  t=$(run_load $2)
  stop_server
  rate "$t"
}
bench_run
bench_table "MiB/s"
echo "(MiB/s of a $mib MiB download; tftpd-hpa does not do windowsize, so it answers those in lock-step)"

# The TCP service's get against a plain cat through a loopback socket (nc).
bench_measure() {  # SERVER get
  local t nc_port nc_pid
  if [ "$1" = nc ]; then
    nc_port=$(free_port tcp)
    nc -N -l 127.0.0.1 "$nc_port" <"$work/site/big.bin" &
    nc_pid=$!
    for _ in $(seq 1 100); do ss -ltn | grep -q ":$nc_port " && break; sleep 0.02; done
    t=$(seconds sh -c "nc -d 127.0.0.1 $nc_port >'$work/out/big.bin'")
    wait "$nc_pid" 2>/dev/null || true
  else
    start_server "$bin/tftp_server" --port 0 -d "$work/site" --mode "$1" --no-udp >&2
    t=$(cd "$work/out" && seconds "$bin/tftp_client" 127.0.0.1 "$port" get big.bin)
    stop_server
  fi
  check "$work/out/big.bin" "$1 get"
  rate "$t"
}
servers=(nc thread event)
loads=(get)
bench_run
bench_table "MiB/s"
echo "(the TCP service's get with tftp_client against a plain cat over a loopback socket: target within 2x, i.e. x0.5 or more)"
exit 0
