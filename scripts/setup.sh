#!/usr/bin/env bash
# Installs what sockserv needs from Debian packages, if missing. Safe to run again: it installs
# nothing when everything is there.
#   scripts/setup.sh build    what building and running the programs need (scripts/run.sh)
#   scripts/setup.sh          that, and the tests' and benchmarks' real clients and peers
set -euo pipefail

packages=(
  # build (help2man: the man pages, made from each program's --help)
  cmake ninja-build g++ libboost-dev libboost-system-dev libboost-program-options-dev libboost-context-dev help2man
  # TLS: Debian's OpenSSL 3
  libssl-dev
  # chat rooms shared through Redis: hiredis
  libhiredis-dev
)
if [ "${1:-all}" != build ]; then
  packages+=(
    catch2
    # the libFuzzer harnesses (tests/fuzz): clang and its fuzzer runtime
    clang libclang-rt-14-dev
    # tests and benchmarks: real clients and peers; systemd's socket activator; pkg-config
    curl netcat-openbsd python3 util-linux wrk procps tmux nginx chromium tftp-hpa atftp busybox tftpd-hpa
    systemd
    # benchmarks: the system-call budget (perf stat on syscall tracepoints) and profiles; valgrind's
    # callgrind counts the instructions per request (scripts/bench/instructions.sh)
    linux-perf valgrind
    # the fleet: a real load balancer in front of the servers (PROXY protocol), and the Redis
    # server chat nodes share a room through
    haproxy redis-server
    # TLS: the openssl command (test certificates, s_client), sslscan, and NSS's certutil so
    # headless Chromium trusts the tests' own CA
    openssl sslscan libnss3-tools
    # metrics: Prometheus's promtool checks the exposition format
    prometheus
  )
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
