#!/usr/bin/env bash
# Installs every Debian 12 package Civic Attest needs to build, test, fuzz and benchmark.
# Idempotent: when everything is present it changes nothing and does not touch the network.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git ca-certificates
  # clang with libFuzzer and the sanitizer runtimes (scripts/fuzz.sh)
  clang libclang-rt-14-dev
  # libraries
  libcaf-dev libsodium-dev libssl-dev liblmdb-dev libcereal-dev
  libboost-program-options-dev libboost-dev nlohmann-json3-dev libyaml-cpp-dev
  libspdlog-dev prometheus-cpp-dev
  # tests and benchmarks
  catch2 libbenchmark-dev wrk curl time util-linux strace
  # the audit's interop test: a log written with Go's golang.org/x/mod/sumdb/tlog
  golang-go golang-golang-x-mod-dev
)

say() { printf 'setup: %s\n' "$*" >&2; }

if [ -r /etc/os-release ]; then
  . /etc/os-release
  if [ "${ID:-}" != "debian" ] || [ "${VERSION_ID:-}" != "12" ]; then
    say "warning: this project targets Debian 12 (bookworm); found ${PRETTY_NAME:-unknown}. Continuing."
  fi
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  say "all ${#packages[@]} packages present"
  exit 0
fi

say "installing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  say "error: missing packages (${missing[*]}) and not root, and sudo is not available."
  say "       run this script as root: su -c scripts/setup.sh"
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "error: apt-get not found; this script needs Debian 12 (bookworm)."
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get update -qq; then
  say "error: 'apt-get update' failed: check the network and /etc/apt/sources.list."
  exit 1
fi
if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  say "error: 'apt-get install ${missing[*]}' failed (see the apt output above)."
  exit 1
fi
say "installed ${#missing[@]} packages"
