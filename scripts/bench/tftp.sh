#!/usr/bin/env bash
# The tftp benchmark: a 100 MiB download with curl and atftp at blksize 512, 1428, 8192 and 65464,
# and with windowsize (atftp), against tftp_server and, in the same run, tftpd-hpa (Debian's
# in.tftpd, started here on a loopback port); then the TCP service's get of the same file against
# a plain cat over a loopback socket (nc). Prints MiB/s and the ratios.
#   scripts/bench/tftp.sh [MiB, default 100]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mib="${1:-100}"
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

loads=("curl 512" "curl 1428" "curl 8192" "curl 65464" "atftp 512" "atftp 1428" "atftp 8192" "atftp 65464"
       "atftp 1428 w16" "atftp 8192 w8" "atftp 65464 w2")
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

servers=(thread fork tftpd-hpa)
declare -A mbps
for server in "${servers[@]}"; do
  if [ "$server" = tftpd-hpa ]; then start_tftpd_hpa; else start_server "$bin/tftp_server" --port 0 -d "$work/site" --mode "$server" --no-tcp; fi
  for load in "${loads[@]}"; do
    # shellcheck disable=SC2086
    t=$(run_load $load)
    mbps[$server,$load]=$(rate "$t")
    echo "  $server / $load: ${mbps[$server,$load]} MiB/s" >&2
  done
  stop_server
done

echo
printf '%-16s' "load"
for server in "${servers[@]}"; do printf '%12s' "$server"; done
printf '%14s\n' "best/hpa"
for load in "${loads[@]}"; do
  printf '%-16s' "$load"
  best=0
  for server in "${servers[@]}"; do
    printf '%12s' "${mbps[$server,$load]}"
    [ "$server" != tftpd-hpa ] && best=$(awk -v a="$best" -v b="${mbps[$server,$load]}" 'BEGIN { print (b > a ? b : a) }')
  done
  printf '%13sx\n' "$(ratio "$best" "${mbps[tftpd-hpa,$load]}")"
done
echo "(MiB/s of a $mib MiB download; tftpd-hpa does not do windowsize, so it answers those in lock-step)"

# The TCP service's get against a plain cat through a loopback socket.
start_server "$bin/tftp_server" --port 0 -d "$work/site" --mode thread --no-udp
tcp=$(rate "$(cd "$work/out" && seconds "$bin/tftp_client" 127.0.0.1 "$port" get big.bin)")
check "$work/out/big.bin" "tftp_client get"
stop_server
nc_port=$(free_port tcp)
nc -N -l 127.0.0.1 "$nc_port" <"$work/site/big.bin" &
nc_pid=$!
for _ in $(seq 1 100); do ss -ltn | grep -q ":$nc_port " && break; sleep 0.02; done
cat_rate=$(rate "$(seconds sh -c "nc -d 127.0.0.1 $nc_port >'$work/out/big.bin'")")
wait "$nc_pid" 2>/dev/null || true
check "$work/out/big.bin" "nc"
echo
echo "TCP get (tftp_client): $tcp MiB/s; plain cat over a loopback socket (nc): $cat_rate MiB/s; ratio $(ratio "$cat_rate" "$tcp") (target: within 2x)"
