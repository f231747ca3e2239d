# Shared by the benchmark scripts (source it after setting $root): installs what is missing, builds
# the release flavour, sets $bin; starts servers in the background and learns each one's port from
# the line it prints ("serving on ADDR:PORT", or "Serving HTTP on ADDR port PORT" as http_server and
# Python's http.server say it); stops every server on exit.

"$root/scripts/setup.sh"
"$root/scripts/build.sh" release >/dev/null
bin="$root/build/release/bin"

bench_pids=()
bench_logs=()
cleanup() {
  for pid in "${bench_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${bench_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "${bench_logs[@]}"
}
trap cleanup EXIT

# start_server CMD... : sets $port (and $server_pid). Waits for the line, never sleeps blindly.
start_server() {
  local log
  log=$(mktemp)
  bench_logs+=("$log")
  "$@" >"$log" 2>&1 &
  server_pid=$!
  bench_pids+=("$server_pid")
  for _ in $(seq 1 200); do
    port=$(grep -oE 'serving on [^ ]*:[0-9]+|Serving HTTP on [^ ]+ port [0-9]+' "$log" | head -1 |
      sed -E 's/.*[: ]([0-9]+)$/\1/') || true
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    # inotifywait is not in the base image; a short poll of a log file is the wait here.
    sleep 0.05
  done
  echo "bench: '$*' did not start: $(cat "$log")" >&2
  return 1
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

# free_port [tcp|udp]: a port the kernel says is free now, for peers that cannot bind port 0 and
# report it (nginx, in.tftpd, nc). A tiny race that only a benchmark can afford.
free_port() {
  local type=SOCK_STREAM
  [ "${1:-tcp}" = udp ] && type=SOCK_DGRAM
  python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$type); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

# ratio A B: A/B with two decimals, "-" when B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
