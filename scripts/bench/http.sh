#!/usr/bin/env bash
# The http benchmark: wrk fetching a 1 KB and a 64 KB file with keep-alive at 1, 16 and 128
# connections, and a connection per request, against http_server in each mode, Python's
# http.server and nginx (1 worker), in one run. Prints requests/s and the ratios to Python and nginx.
#   scripts/bench/http.sh [SECONDS per measurement, default 5]
# Every server logs each request (ours and Python's to stderr, nginx to its access log), all into
# files: the same work for each.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-5}"
source "$root/scripts/bench/common.sh"  # installs, builds, sets $bin

work=$(mktemp -d)
trap 'cleanup; rm -rf "$work"' EXIT
mkdir -p "$work/site" "$work/nginx"
head -c 1024 /dev/urandom >"$work/site/1k.bin"
head -c 65536 /dev/urandom >"$work/site/64k.bin"
# nginx's worker drops root privileges: the files must be readable by anyone.
chmod 755 "$work" "$work/site"
chmod 644 "$work/site/"*


servers=(thread fork sync python nginx)
declare -A command=(
  [thread]="$bin/http_server 0 -b 127.0.0.1 -d $work/site --mode thread"
  [fork]="$bin/http_server 0 -b 127.0.0.1 -d $work/site --mode fork"
  [sync]="$bin/http_server 0 -b 127.0.0.1 -d $work/site --mode sync"
  [python]="python3 -u -m http.server 0 --bind 127.0.0.1 --directory $work/site"
)
# file, connections, keep-alive or close
loads=("1k 1 keep" "1k 16 keep" "1k 128 keep" "64k 1 keep" "64k 16 keep" "64k 128 keep" "1k 16 close")
declare -A rate errors

for server in "${servers[@]}"; do
  for load in "${loads[@]}"; do
    # A fresh server for every load, so one load's leftovers never slow the next.
    if [ "$server" = nginx ]; then
      start_nginx 1 "$work/site" "$work/nginx"
    else
      # shellcheck disable=SC2086
      start_server ${command[$server]}
    fi
    set -- $load
    header=()
    [ "$3" = close ] && header=(-H "Connection: close")
    out=$(wrk -t1 -c"$2" -d"${seconds}s" --timeout 5s "${header[@]}" "http://127.0.0.1:$port/$1.bin" 2>&1 || true)
    stop_server
    rate[$server,$load]=$(wrk_rate <<<"$out")
    errors[$server,$load]=$(wrk_errors <<<"$out")
    echo "  $server / $load: ${rate[$server,$load]:-0} req/s ${errors[$server,$load]}" >&2
  done
done


echo
printf '%-8s' "server"
for load in "${loads[@]}"; do printf '%26s' "$load"; done
echo
for server in "${servers[@]}"; do
  printf '%-8s' "$server"
  for load in "${loads[@]}"; do
    r=${rate[$server,$load]:-0}
    printf '%10s %6sxP %5sxN' "$r" "$(ratio "$r" "${rate[python,$load]:-0}")" "$(ratio "$r" "${rate[nginx,$load]:-0}")"
  done
  echo
done
echo
echo "columns: requests/s, ratio to Python's http.server (xP), ratio to nginx with 1 worker (xN)"
best=thread
for server in fork sync; do
  [ "${rate[$server,1k 16 keep]:-0}" -gt "${rate[$best,1k 16 keep]:-0}" ] && best=$server
done
worst_python=""
for load in "${loads[@]}"; do
  r=$(ratio "${rate[$best,$load]:-0}" "${rate[python,$load]:-0}")
  if [ -z "$worst_python" ] || awk -v a="$r" -v b="$worst_python" 'BEGIN { exit !(a < b) }'; then worst_python=$r; fi
done
echo "best mode at c=16 keep-alive (1 KB): $best; vs nginx $(ratio "${rate[$best,1k 16 keep]}" "${rate[nginx,1k 16 keep]}")x (target >= 0.8), 64 KB $(ratio "${rate[$best,64k 16 keep]}" "${rate[nginx,64k 16 keep]}")x"
echo "$best vs Python: lowest ratio over every load ${worst_python}x (target >= 20)"
for server in "${servers[@]}"; do
  for load in "${loads[@]}"; do
    [ -n "${errors[$server,$load]}" ] && echo "errors: $server / $load: ${errors[$server,$load]}"
  done
done
exit 0
