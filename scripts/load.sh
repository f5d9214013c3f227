#!/usr/bin/env bash
# Load test of a real node on this machine: builds Release, makes a fresh data
# directory, starts `civic-attest serve` on 127.0.0.1, registers an identity,
# and drives POST /api/sign with wrk (64 connections by default), then stops it.
#
#   scripts/load.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
port=${LOAD_PORT:-18181}

scripts/setup.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release --target civic-attest --parallel 2
bin=build-release/bin/civic-attest

data=$(mktemp -d build-release/load-data.XXXXXX)
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT
rmdir "$data"
"$bin" init --data "$data" --origin load.example/log >/dev/null 2>&1
"$bin" serve --data "$data" --listen "127.0.0.1:$port" --http-threads 2 2>"$data.serve.log" &
server=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

admin=$(cat "$data/admin.token")
curl -fs -X POST -H "Authorization: Bearer $admin" -d '{"identity":"load/clerk"}' \
  "http://127.0.0.1:$port/api/identities" >/dev/null
export TOKEN IDENTITY=load/clerk
TOKEN=$("$bin" token add --data "$data" --identity load/clerk --label load)

echo "machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "== POST /api/sign: ${connections} connections, ${seconds} s, wrk and the node on the same machine"
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/sign.lua "http://127.0.0.1:$port"
echo "== ledger after the run"
curl -fs "http://127.0.0.1:$port/api/status"; echo
rm -f "$data.serve.log"
