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
    port=$(grep -oE 'serving on [^ ]*:[0-9]+|Serving HTTPS? on [^ ]+ port [0-9]+' "$log" | head -1 |
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

# raise_fd_limit: as many fds as this machine allows (root may raise the hard limit): thousands of
# connections need one each in the client and in the server.
raise_fd_limit() {
  ulimit -Hn 65536 2>/dev/null || true
  ulimit -n "$(ulimit -Hn)"
}

# tree_rss PID: the RSS (KiB) of a server and its children (nginx's workers, a pool's workers).
tree_rss() {
  local total=0 pid
  for pid in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# tree_cpu_ticks PID: "USER SYSTEM", the clock ticks (1/100 s) that a server and its children (nginx's
# workers, a pool's workers) have run so far, every thread counted.
tree_cpu_ticks() {
  local pid
  for pid in $1 $(pgrep -P "$1" || true); do
    cat "/proc/$pid/task/"*/stat 2>/dev/null || true
  done | sed 's/.*) //' | awk '{ u += $12; s += $13 } END { printf "%d %d", u, s }'
}

# cpu_note BEFORE AFTER COUNT TIMES CLIENT UNIT: "cpu us/UNIT: server user U system S, CLIENT C", the
# CPU per operation of a window of COUNT: the server's from tree_cpu_ticks before and after it, the
# client's from the last line of `times` run in the client's subshell ("XmY.YYYs XmY.YYYs").
cpu_note() {
  awk -v b="$1" -v a="$2" -v n="$3" -v w="$4" -v client="$5" -v unit="$6" '
    function sec(t,  p) { split(t, p, /[ms]/); return p[1] * 60 + p[2] }
    BEGIN { split(b, x, " "); split(a, y, " "); split(w, c, " ")
            if (n > 0) printf "cpu us/%s: server user %.2f system %.2f, %s %.2f", unit,
              (y[1] - x[1]) * 1e4 / n, (y[2] - x[2]) * 1e4 / n, client, (sec(c[1]) + sec(c[2])) * 1e6 / n }'
}

# rss_holding WHAT SERVER HOLDER: starts SERVER (the script's own start), runs the function HOLDER
# (it connects to $port, holds its connections open and prints "holding N" once it has them), and
# prints what the server holds for them: "RSS holding WHAT: SERVER KiB (+KiB)".
rss_holding() {
  local what=$1 server=$2 holder=$3 before after pid log
  start "$server"
  before=$(tree_rss "$server_pid")
  log=$(mktemp)
  bench_logs+=("$log")
  "$holder" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do grep -q "^holding" "$log" 2>/dev/null && break; sleep 0.1; done
  # Idle for a while, as held connections are: event mode gives back the stack pages an idle
  # fiber's request touched after a second or two (every server gets the same wait).
  sleep 3
  after=$(tree_rss "$server_pid")
  echo "RSS holding $what: $server $after KiB (+$((after - before))) ($(cat "$log"))"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  stop_server
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

# Of wrk's output on standard input: requests/s as a whole number; its error lines, "; "-joined.
wrk_rate() { awk '/^Requests\/sec:/ { printf "%d", $2 }'; }
wrk_errors() { awk '/Socket errors|Non-2xx/ { sub(/^ +/, ""); printf "%s; ", $0 }'; }

# start_nginx WORKERS SITE DIR: nginx with WORKERS worker processes serving SITE on a free loopback
# port, logging each request to DIR/access.log (its config and temp files in DIR too), with
# open_file_cache on (no open or stat per request, as http_server's own cache); sets $port
# and $server_pid. The files must be readable by anyone: nginx's workers drop root's privileges.
# With NGINX_TLS="CERT KEY" it serves HTTPS as http_server --tls-cert does: TLS 1.2 and 1.3, the
# intermediate ciphers, session tickets (nginx's default), no session cache.
start_nginx() {
  local workers=$1 site=$2 dir=$3 nofile scheme=http tls="" cert key
  if [ -n "${NGINX_TLS:-}" ]; then
    scheme=https
    read -r cert key <<<"$NGINX_TLS"
    tls="ssl_certificate $cert; ssl_certificate_key $key; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers off; ssl_session_tickets on;"
  fi
  nofile=$(ulimit -n)
  port=$(free_port)
  cat >"$dir/nginx.conf" <<CONF
worker_processes $workers;
worker_rlimit_nofile $nofile;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections $((nofile > 4196 ? nofile - 100 : 4096)); }
http {
  access_log $dir/access.log${NGINX_LOG_BUFFER:+ combined buffer=$NGINX_LOG_BUFFER flush=1s};
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  open_file_cache max=10000 inactive=60s;
  types { application/octet-stream bin; }
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
  uwsgi_temp_path $dir; scgi_temp_path $dir;
  server { listen 127.0.0.1:$port${tls:+ ssl}${NGINX_LISTEN:+ $NGINX_LISTEN}; root $site; $tls }
}
CONF
  nginx -c "$dir/nginx.conf" -p "$dir" 2>>"$dir/error.log" &
  server_pid=$!
  bench_pids+=("$server_pid")
  for _ in $(seq 1 200); do
    curl -sfk -o /dev/null "$scheme://127.0.0.1:$port/1k.bin" && return 0
    sleep 0.05
  done
  echo "bench: nginx did not start: $(cat "$dir/error.log")" >&2
  return 1
}

# ---- The one way the scripts measure and print: bench_run, then bench_table ----
#
# These machines drift 20-30% within minutes, more than most differences worth measuring, so no
# figure is taken from one window per server: in each of $pairs rounds (PAIRS, default 5) every
# server is measured once per load, one after the other (A B C, A B C, ...), and a server's ratio
# to the anchor is taken within each round — two measurements seconds apart — and reported as the
# median of those ratios with their spread (lowest-highest).
#
# A script sets  servers=(ANCHOR OTHER...)  (the first is the anchor)  and  loads=(LOAD...),  and
# defines  bench_measure SERVER LOAD,  which starts the server, measures, stops it and prints
# "RATE" or "RATE NOTE..." (RATE: higher is better; the note is kept for the table's footer).
pairs="${PAIRS:-5}"
declare -A bench_rates bench_notes

bench_run() {
  local round load server out note
  for round in $(seq 1 "$pairs"); do
    for load in "${loads[@]}"; do
      for server in "${servers[@]}"; do
        out=$(bench_measure "$server" "$load") || out="0 failed to run"
        bench_rates[$server,$load]+="${out%% *} "
        note=""
        [ "$out" != "${out#* }" ] && note=$(sed -E 's/^ +| +$//g' <<<"${out#* }")
        [ -n "$note" ] && bench_notes[$server,$load]+="$note; "
        echo "  round $round/$pairs: $server / $load: $out" >&2
      done
    done
  done
}

# bench_median [FORMAT]: of the numbers on standard input (printf FORMAT, default whole numbers).
bench_median() {
  tr ' ' '\n' | { grep -v '^$' || true; } | sort -g |
    awk -v f="${1:-%.0f}" '{ v[NR] = $1 } END { if (NR == 0) { printf "-"; exit } printf f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_ratios SERVER LOAD [OTHER]: SERVER's rate over the anchor's (or OTHER's), round by round.
bench_ratios() {
  local other=${3:-${servers[0]}}
  paste -d' ' <(tr ' ' '\n' <<<"${bench_rates[$1,$2]:-}" | grep -v '^$') \
              <(tr ' ' '\n' <<<"${bench_rates[$other,$2]:-}" | grep -v '^$') |
    awk '{ if ($2 > 0) printf "%.3f ", $1 / $2 }'
}

# bench_ratio SERVER LOAD [OTHER]: "MEDIAN (LOW-HIGH)" of the within-round ratios to the anchor
# (or to OTHER).
bench_ratio() {
  local r
  r=$(bench_ratios "$1" "$2" "${3:-}")
  [ -n "$r" ] || { echo "-"; return; }
  echo "$(bench_median %.2f <<<"$r") ($(tr ' ' '\n' <<<"$r" | grep -v '^$' | sort -g | head -1 | awk '{printf "%.2f", $1}')-$(tr ' ' '\n' <<<"$r" | grep -v '^$' | sort -g | tail -1 | awk '{printf "%.2f", $1}'))"
}

# bench_table UNIT: a row per server, a column per load: the median rate, and the ratio to the
# anchor (median of the within-round ratios, with their spread); then every note.
bench_table() {
  local unit=$1 server load
  echo
  echo "$pairs rounds, servers alternated within each; ratios to ${servers[0]}: median of the within-round ratios (lowest-highest)"
  for load in "${loads[@]}"; do
    echo
    printf '%s\n' "$load:"
    for server in "${servers[@]}"; do
      printf '  %-14s %12s %s   x%s\n' "$server" "$(bench_median <<<"${bench_rates[$server,$load]:-}")" "$unit" \
        "$(bench_ratio "$server" "$load")"
    done
  done
  echo
  for server in "${servers[@]}"; do
    for load in "${loads[@]}"; do
      [ -n "${bench_notes[$server,$load]:-}" ] && echo "note: $server / $load: ${bench_notes[$server,$load]}"
    done
  done
  return 0
}

# drive LOAD CONNECTIONS SECONDS: loads the server at $port and prints how many requests were
# answered. keep: wrk, keep-alive, GET /1k.bin; close: the same with "Connection: close";
# pingpong, connrate: loadgen's 64-byte messages, or connect-echo-close.
drive() {
  case "$1" in
    keep)  wrk -t1 -c"$2" -d"${3}s" "http://127.0.0.1:$port/1k.bin" | awk '/requests in/ { print $1 }' ;;
    close) wrk -t1 -c"$2" -d"${3}s" -H "Connection: close" "http://127.0.0.1:$port/1k.bin" | awk '/requests in/ { print $1 }' ;;
    pingpong|connrate) "$bin/loadgen" "$1" 127.0.0.1 "$port" "$2" "$3" | sed -E 's/.*operations=([0-9]+).*/\1/' ;;
    *) echo "bench: unknown load '$1'" >&2; return 1 ;;
  esac
}
