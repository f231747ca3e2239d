#!/usr/bin/env bash
# The HTTPS benchmark: http_server --tls-cert against nginx with 2 workers, the same certificate
# (ECDSA P-256), TLS 1.3 and cipher (TLS_AES_256_GCM_SHA384, both servers' first choice for these
# clients), every server logging each request to a file. Servers alternate within each round
# (common.sh's bench_run); each figure is the median of the within-round ratios to nginx.
#   scripts/bench/https.sh [SECONDS per measurement, default 3]
#   SERVERS="nginx event pool"      event: one process, 2 loops; pool: --workers 2 --mode event --loops 1
#   LOADS="1k 16 keep,1k 128 keep,1k 1000 keep,1k 16 close,1k 128 close,1k 2 new,1k 2 resume,100m 1 file"
#   PAIRS=5
# Loads: keep — wrk over https with keep-alive (requests/s); close — wrk with Connection: close, a
# new connection per request, which wrk resumes from its last session's ticket (requests/s); new —
# openssl s_time -new, two at once, a full handshake per connection; resume — s_time -reuse, each
# connection resuming the first one's session (connections/s); file — curl fetching a 100 MB file
# over one connection (MB/s). Then, with RSS=1, what each server holds for 9,000 idle
# TLS connections.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-3}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

raise_fd_limit

work=$(mktemp -d)
trap 'cleanup; rm -rf "$work"' EXIT
mkdir -p "$work/site" "$work/nginx"
head -c 1024 /dev/urandom >"$work/site/1k.bin"
head -c $((100 << 20)) /dev/urandom >"$work/site/100m.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 755 "$work" "$work/site"
chmod 644 "$work/site/"* "$work/"*.pem
export NGINX_TLS="$work/cert.pem $work/key.pem"

read -r -a servers <<<"${SERVERS:-nginx event pool}"
IFS=, read -r -a loads <<<"${LOADS:-1k 16 keep,1k 128 keep,1k 1000 keep,1k 16 close,1k 128 close,1k 2 new,1k 2 resume,100m 1 file}"
limit=$(( $(ulimit -n) - 200 ))

start() {
  if [ "$1" = nginx ]; then start_nginx 2 "$work/site" "$work/nginx"; return; fi
  local http="$bin/http_server 0 -b 127.0.0.1 -d $work/site --idle-timeout 120 --tls-cert $work/cert.pem --tls-key $work/key.pem"
  case "$1" in
    event) start_server $http --mode event --loops 2 --max-connections "$limit" ;;
    pool)  start_server $http --workers 2 --mode event --loops 1 --max-connections "$limit" ;;
    *) echo "bench: unknown server '$1'" >&2; return 1 ;;
  esac
}

# s_time's "N connections in T real seconds", as connections/s, summed over its copies.
s_time_rate() {
  awk '/connections in [0-9.]+ real seconds/ { for (i = 1; i <= NF; i++) if ($i == "connections") n = $(i-1);
         for (i = 1; i <= NF; i++) if ($i == "real") t = $(i-1); if (t > 0) sum += n / t } END { printf "%d", sum }'
}

bench_measure() {  # SERVER "FILE CONNECTIONS keep|close|resume|file"
  local file conns how out threads=2 i
  read -r file conns how <<<"$2"
  [ "$conns" -lt 2 ] && threads=1
  start "$1" >&2 || return 1
  local url="https://127.0.0.1:$port/$file.bin"
  case "$how" in
    keep)  out=$(wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s "$url" 2>&1 || true)
           echo "$(wrk_rate <<<"$out") $(wrk_errors <<<"$out")" ;;
    close) out=$(wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s -H "Connection: close" "$url" 2>&1 || true)
           echo "$(wrk_rate <<<"$out") $(wrk_errors <<<"$out")" ;;
    new|resume)
      local timers=() flag=-new
      [ "$how" = resume ] && flag=-reuse
      rm -f "$work"/s_time.*
      for i in $(seq 1 "$conns"); do
        openssl s_time -connect "127.0.0.1:$port" "$flag" -time "$seconds" -www "/$file.bin" -tls1_3 >"$work/s_time.$i" 2>&1 &
        timers+=($!)
      done
      wait "${timers[@]}" || true
      cat "$work"/s_time.* | s_time_rate ;;
    file)
      out=$(curl -sk -o /dev/null -w '%{speed_download}' "$url")
      awk -v b="$out" 'BEGIN { printf "%d", b / 1000000 }' ;;
  esac
  stop_server
}

bench_run
bench_table "/s"
echo "loads: FILE CONNECTIONS keep (wrk keep-alive, req/s) | close (wrk, a connection per request, resumed; req/s)"
echo "       | new (s_time, full handshakes; conn/s) | resume (s_time -reuse; conn/s) | file (curl; MB/s)"
for server in nginx event; do
  start "$server" >/dev/null
  echo "$server speaks: $(echo | openssl s_client -connect "127.0.0.1:$port" 2>/dev/null | grep -m1 '^New,')"
  stop_server
done

# 9,000 idle TLS connections, each having fetched one file (Python's ssl holds them).
hold_tls() {
  python3 - "$port" 9000 <<'PY'
import resource, socket, ssl, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
held = []
for _ in range(count):
    s = context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got or len(got) < got.index(b"\r\n\r\n") + 4 + 1024:
        got += s.recv(65536)
    held.append(s)
print("holding", len(held), flush=True)
time.sleep(3600)
PY
}
if [ "${RSS:-0}" = 1 ]; then
  echo
  for server in nginx event; do rss_holding "9,000 idle TLS connections" "$server" hold_tls; done
fi
exit 0
