#!/usr/bin/env bash
# Installs what sockserv needs to build, test and benchmark, from Debian packages, if missing.
# Safe to run again: it installs nothing when everything is there.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ libboost-dev libboost-system-dev libboost-program-options-dev libboost-context-dev catch2
  # tests and benchmarks: real clients and peers
  curl netcat-openbsd python3 util-linux wrk procps tmux nginx chromium tftp-hpa atftp busybox tftpd-hpa
)

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
