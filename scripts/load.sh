#!/usr/bin/env bash
# Load test of a real node on this machine: builds Release, makes a fresh data
# directory, starts `civic-attest serve` on 127.0.0.1, registers an identity,
# drives POST /api/sign, then POST /api/verify (proof files made by the node),
# with wrk at 64 connections by default, and stops the node.
#
#   scripts/load.sh [SECONDS] [CONNECTIONS]
#   LOAD_ONLY=sign|verify      run one of the two
#   LOAD_SERVE_ARGS="..."      extra `serve` flags, e.g. "--batch-linger-ms 2"
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
port=${LOAD_PORT:-18181}
only=${LOAD_ONLY:-}
server_url="http://127.0.0.1:$port"

scripts/setup.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release --target civic-attest --parallel 2
bin=build-release/bin/civic-attest

data=$(mktemp -d build-release/load-data.XXXXXX)
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$data" "$data.serve.log"
}
trap cleanup EXIT
rmdir "$data"
"$bin" init --data "$data" --origin load.example/log >/dev/null 2>&1
# shellcheck disable=SC2086 # LOAD_SERVE_ARGS is a list of flags
"$bin" serve --data "$data" --listen "127.0.0.1:$port" --http-threads 2 ${LOAD_SERVE_ARGS:-} \
  2>"$data.serve.log" &
server=$!
for _ in $(seq 50); do curl -fs "$server_url/healthz" >/dev/null && break; sleep 0.1; done

"$bin" identity add --server "$server_url" --token-file "$data/admin.token" \
  --identity load/clerk >/dev/null 2>&1
export TOKEN IDENTITY=load/clerk
TOKEN=$("$bin" token add --data "$data" --identity load/clerk --label load)

echo "machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
if [ "$only" != verify ]; then
  echo "== POST /api/sign: ${connections} connections, ${seconds} s, wrk and the node on the same machine"
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/sign.lua "$server_url"
  echo "== ledger after the run"
  curl -fs "$server_url/api/status"; echo
fi
if [ "$only" != sign ]; then
  # 256 documents signed through the node: their proof files are what clients verify.
  docs="$data/docs"
  mkdir -p "$docs"
  printf '%s\n' "$TOKEN" > "$docs/token"; chmod 600 "$docs/token"
  : > "$docs/list"
  for i in $(seq 256); do
    printf 'Document %d for the verify load test.\n' "$i" > "$docs/$i.txt"
    "$bin" sign --server "$server_url" --token-file "$docs/token" --identity load/clerk \
      --file "$docs/$i.txt" >/dev/null 2>&1
    echo "$(sha256sum "$docs/$i.txt" | cut -d' ' -f1) $docs/$i.txt.tlog-proof" >> "$docs/list"
  done
  export PROOF_LIST="$docs/list"
  # One request by hand first: every file must verify, or the figures mean nothing.
  first_hash=$(head -1 "$docs/list" | cut -d' ' -f1)
  first_proof=$(sed ':a;N;$!ba;s/\n/\\n/g' "$docs/1.txt.tlog-proof")
  if ! curl -fs -X POST -d "{\"proof\":\"$first_proof\\n\",\"content_sha256\":\"$first_hash\"}" \
      "$server_url/api/verify" | grep -q '"valid":true'; then
    echo "load.sh: a genuine proof file did not verify through /api/verify" >&2
    exit 1
  fi
  echo "== POST /api/verify: ${connections} connections, ${seconds} s, 256 different proof files"
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/verify.lua "$server_url"
fi
