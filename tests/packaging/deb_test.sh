#!/usr/bin/env bash
# cpack -G DEB from the release build, then the packages as a user meets them: their metadata,
# `apt-get install ./...deb` into this machine, the installed http_server serving a file, a project
# built against the installed CMake package with no hints, the units verified, and a clean removal.
# Installs into the system, so it runs only as root and only where sockserv is not installed
# already (exit 77: skipped).
#   deb_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
. "$source/tests/packaging/common.sh"
if [ "$(id -u)" -ne 0 ]; then echo "deb test: skipped (needs root to install packages)"; exit 77; fi
if dpkg-query -W -f='${Status}' sockserv libsockserv-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "deb test: skipped (sockserv is installed on this machine already; not touching it)"
  exit 77
fi
work=$(mktemp -d /tmp/sockserv-deb-XXXXXX)
server=""
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sockserv libsockserv-dev >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$build" && cpack -G DEB -B "$work/packages" >/dev/null) || fail "cpack -G DEB"
version=$(sed -nE 's/.*project\(sockserv VERSION ([0-9.]+).*/\1/p' "$source/CMakeLists.txt")
apps_deb=$(ls "$work"/packages/sockserv_"$version"_*.deb)
dev_deb=$(ls "$work"/packages/libsockserv-dev_"$version"_*.deb)

field() { dpkg-deb -f "$1" "$2"; }
expect "sockserv's Package" "$(field "$apps_deb" Package)" sockserv
expect "sockserv's Version" "$(field "$apps_deb" Version)" "$version"
expect "sockserv's Depends" "$(field "$apps_deb" Depends)" "libc6 (>= 2.36)"
field "$apps_deb" Description >"$work/description"
grep -q "chat_server, a UDP group chat" "$work/description" || fail "sockserv's Description"
field "$dev_deb" Depends >"$work/depends"
grep -q "libboost-program-options-dev" "$work/depends" || fail "libsockserv-dev's Depends lacks Boost"
# (Listed to files first: grep -q stopping early would kill dpkg-deb with SIGPIPE under pipefail.)
dpkg-deb -c "$apps_deb" >"$work/apps.list"
dpkg-deb -c "$dev_deb" >"$work/dev.list"
grep -q "usr/share/doc/sockserv/copyright" "$work/apps.list" || fail "sockserv has no copyright file"
grep -q "usr/lib/systemd/system/sockserv-tftp.socket" "$work/apps.list" || fail "sockserv has no tftp socket unit"
grep -q "usr/share/man/man1/tftp_server.1" "$work/apps.list" || fail "sockserv has no man pages"
grep -q "usr/lib/cmake/sockserv/sockservConfig.cmake" "$work/dev.list" || fail "libsockserv-dev has no CMake package"
grep -q "usr/share/doc/libsockserv-dev/copyright" "$work/dev.list" || fail "libsockserv-dev has no copyright file"

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$apps_deb" "$dev_deb" >/dev/null || fail "apt-get install of the packages"
expect "installed http_server --version" "$(/usr/bin/http_server --version)" "http_server (sockserv $version)"

mkdir -p "$work/site"
echo "served by the packaged http_server" >"$work/site/page.txt"
/usr/bin/http_server -b 127.0.0.1 --port 0 --mode event -d "$work/site" 2>"$work/http.err" &
server=$!
port=$(wait_for_line "$work/http.err" "Serving HTTP on 127.0.0.1 port [0-9]+" | sed -E 's/.* port ([0-9]+).*/\1/')
expect "the file, through the packaged server" "$(curl -sS "http://127.0.0.1:$port/page.txt")" "served by the packaged http_server"
kill -TERM "$server"
status=0
wait "$server" || status=$?
server=""
expect "packaged http_server's exit status after SIGTERM" "$status" 0

# A project finds the packaged library where Debian puts it, with no CMAKE_PREFIX_PATH.
cmake -S "$source/examples/word_tally" -B "$work/word_tally" -G Ninja >/dev/null || fail "find_package against the .deb"
cmake --build "$work/word_tally" >/dev/null || fail "building against the .deb"

report=$(systemd-analyze verify --man=no /usr/lib/systemd/system/sockserv-*.socket /usr/lib/systemd/system/sockserv-*.service 2>&1) \
  || fail "systemd-analyze verify: $report"
[ -z "$report" ] || fail "systemd-analyze verify of the packaged units: $report"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sockserv libsockserv-dev >/dev/null || fail "apt-get purge"
for path in /usr/bin/http_server /usr/include/sockserv /usr/lib/cmake/sockserv /usr/lib/libsockserv.a \
            /usr/lib/systemd/system/sockserv-http.socket /usr/share/doc/sockserv; do
  [ ! -e "$path" ] || fail "$path is still there after the packages were removed"
done
echo "deb test: passed"
