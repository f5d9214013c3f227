#!/usr/bin/env bash
# Load test of real nodes on this machine, with wrk at 64 connections by default.
#  1. sign, verify: builds Release, makes a fresh data directory, starts
#     `civic-attest serve` on 127.0.0.1, registers an identity, drives
#     POST /api/sign, then POST /api/verify (proof files made by the node).
#  2. network: a leader alone, then a leader and one replica (TLS between them,
#     each write waits for the replica's acknowledgement) started from topology
#     files: POST /api/sign to the leader alone, to the leader with its replica,
#     and through the replica (forwarded over CAF); the replica's
#     acknowledgement lag (p50/p95, from the leader's /api/status) under each.
#
#  2b. monitor: `civic-attest monitor` following the node (--interval-ms
#     LOAD_MONITOR_INTERVAL_MS, default 200) for a fresh identity while
#     LOAD_MONITOR_STATEMENTS (default 200) statements are signed one at a time:
#     the lag from each statement's acknowledgement to the monitor's line for it.
#
#  2c. audit: the node is filled to LOAD_AUDIT_ENTRIES (default 1000000)
#     signed entries through POST /api/sign, then `civic-attest audit` reads it
#     over HTTP from nothing (entries/s, both cores), and again after
#     LOAD_AUDIT_MORE (default 10000) more entries (the incremental run).
#
#  3. witness: a leader with 0 (witnessing off), 3, 5, 7 and 10 witness
#     processes (quorum: a majority), TLS between them: the cosigning round's
#     time to quorum (p50/p95, from the leader's /api/status) idle (one entry a
#     round) and under the signing load, and the signing throughput.
#
#  3b. witnessed: a leader and 3 witness processes (2 of 3): POST /api/sign
#     at full speed, then with "witnessed": true offered at LOAD_WITNESSED_RATE
#     (default 1000) requests/s on a fixed schedule (open loop), then at full
#     speed again (the two plain runs bracket the paced one, for ratios within
#     one run).
#
#   scripts/load.sh [SECONDS] [CONNECTIONS]
#   LOAD_ONLY=sign|verify|monitor|audit|network|witness|witnessed   run one part
#   LOAD_WITNESSES="0 3 0 3"  LOAD_IDLE=0     witness part: which counts, in order; no idle rounds
#   LOAD_SERVE_ARGS="..."           extra `serve`/`node` flags, e.g. "--batch-linger-ms 2"
#   LOAD_BIN=PATH                   run this civic-attest instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
port=${LOAD_PORT:-18181}
only=${LOAD_ONLY:-}
server_url="http://127.0.0.1:$port"

scripts/setup.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ -n "${LOAD_BIN:-}" ]; then
  bin=$(realpath "$LOAD_BIN") # another build of civic-attest, to compare two in alternating runs
else
  cmake --build build-release --target civic-attest --parallel 2
  bin=$PWD/build-release/bin/civic-attest
fi

data=$(mktemp -d build-release/load-data.XXXXXX)
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  for file in "$data"/network/*.yaml; do
    [ -f "$file" ] &&
      CLUSTER_DIR="${file%.yaml}" scripts/cluster.sh down "$file" 2>/dev/null
  done
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
if [ -z "$only" ] || [ "$only" = sign ]; then
  echo "== POST /api/sign: ${connections} connections, ${seconds} s, wrk and the node on the same machine"
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/sign.lua "$server_url"
  echo "== ledger after the run"
  curl -fs "$server_url/api/status"; echo
fi
if [ -z "$only" ] || [ "$only" = verify ]; then
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

if [ -z "$only" ] || [ "$only" = monitor ]; then
  mon="$data/monitor"
  mkdir -p "$mon"
  "$bin" identity add --server "$server_url" --token-file "$data/admin.token" \
    --identity load/watched >/dev/null 2>&1
  interval=${LOAD_MONITOR_INTERVAL_MS:-200}
  # Each line the monitor prints, stamped when it arrives (ns).
  ("$bin" monitor --log "$server_url" --vkey "$data/log.vkey" --identity load/watched \
    --state "$mon/state" --interval-ms "$interval" 2>"$mon/err" |
    while IFS= read -r line; do echo "$(date +%s%N) $line"; done >"$mon/lines") &
  monitor=$!
  admin=$(cat "$data/admin.token")
  : >"$mon/acks"
  for i in $(seq "${LOAD_MONITOR_STATEMENTS:-200}"); do
    reply=$(curl -fs -X POST -H "Authorization: Bearer $admin" \
      -d "{\"identity\":\"load/watched\",\"content_sha256\":\"$(printf '%064x' "$i")\"}" \
      "$server_url/api/sign")
    echo "$(date +%s%N) $(echo "$reply" | sed -E 's/^\{"index":([0-9]+).*/\1/')" >>"$mon/acks"
    sleep 0.05
  done
  sleep $((interval / 1000 + 2))
  kill "$monitor" 2>/dev/null; pkill -f "monitor --log $server_url" 2>/dev/null || true
  wait "$monitor" 2>/dev/null || true
  echo "== monitor lag: statement acknowledged -> monitor line (--interval-ms $interval)"
  awk 'NR == FNR { ack[$2] = $1; next }
       match($0, /"index":[0-9]+/) {
         i = substr($0, RSTART + 8, RLENGTH - 8)
         if ((i in ack) && $0 ~ /"event":"statement"/) print ($1 - ack[i]) / 1e6
       }' "$mon/acks" "$mon/lines" | sort -n >"$mon/lags"
  awk '{ lag[NR] = $1 }
       END {
         if (NR == 0) { print "no statement lines: see the monitor'"'"'s stderr"; exit 1 }
         printf "statements %d, lag p50 %.0f ms, p95 %.0f ms, max %.0f ms\n",
           NR, lag[int(NR * 0.5) + 1], lag[int(NR * 0.95) + 1], lag[NR]
       }' "$mon/lags"
fi

if [ -z "$only" ] || [ "$only" = audit ]; then
  fill() { # ENTRIES [SECONDS]: sign, SECONDS at a time, until the log holds that many
    while true; do
      size=$(curl -fs "$server_url/checkpoint" | sed -n 2p)
      [ "${size:-0}" -ge "$1" ] && break
      wrk -t2 -c"$connections" -d"${2:-10}s" -s scripts/load/sign.lua "$server_url" >/dev/null
    done
    echo "log size: $size"
  }
  state="$data/audit-state"
  node_cpu() { # the serving node's CPU time so far, in clock ticks (user + system)
    awk '{ print $14 + $15 }' "/proc/$server/stat"
  }
  audit() {
    local before
    before=$(node_cpu)
    /usr/bin/time -f 'wall %e s, user %U s, system %S s, peak RSS %M KiB' \
      "$bin" audit --log "$server_url" --vkey "$data/log.vkey" --state "$state" \
      ${LOAD_AUDIT_ARGS:-}
    echo "the node's CPU meanwhile: $(( ($(node_cpu) - before) * 1000 / $(getconf CLK_TCK) )) ms"
  }
  echo "== audit over HTTP of a node filled to ${LOAD_AUDIT_ENTRIES:-1000000} entries, from nothing"
  fill "${LOAD_AUDIT_ENTRIES:-1000000}"
  audit
  echo "== audit again after ${LOAD_AUDIT_MORE:-10000} more entries (incremental)"
  fill $((size + ${LOAD_AUDIT_MORE:-10000})) 1
  audit
fi

if [ -z "$only" ] || [ "$only" = network ]; then
  kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  server=
  net="$data/network"
  mkdir -p "$net"
  # Two topologies: the leader alone, and the leader with one replica (acks: 1).
  write_topology() { # FILE WITH_REPLICA
    {
      echo "origin: load.example/network"
      echo "regions: [{name: here}]"
      echo "nodes:"
      echo "  - {name: leader, region: here, caf_port: 17301, http_port: 18301, roles: [leader], data: leader/data, log_key: leader.key}"
      if [ "$2" = yes ]; then
        echo "  - {name: replica, region: here, caf_port: 17302, http_port: 18302, roles: [replica], data: replica/data}"
        echo "replication: {acks: 1, heartbeat_ms: 1000, connection_timeout_ms: 5000}"
      fi
    } > "$1"
  }
  write_topology "$net/alone.yaml" no
  write_topology "$net/pair.yaml" yes
  drive() { # LABEL URL
    echo "== POST /api/sign $1: ${connections} connections, ${seconds} s"
    wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/sign.lua "$2"
  }
  lag() {
    curl -fs http://127.0.0.1:18301/api/status |
      sed -E 's/.*"replica_lag_p50_us":([0-9]+).*"replica_lag_p95_us":([0-9]+).*/replica ack lag: p50 \1 us, p95 \2 us/'
    echo
  }
  register() { # DATA
    "$bin" identity add --server http://127.0.0.1:18301 --token-file "$1/admin.token" \
      --identity load/clerk >/dev/null 2>&1
    TOKEN=$("$bin" token add --data "$1" --identity load/clerk --label load)
  }
  export CIVIC_ATTEST=$bin CLUSTER_NODE_ARGS="--http-threads 2 ${LOAD_SERVE_ARGS:-}"

  CLUSTER_DIR="$net/alone" scripts/cluster.sh up "$net/alone.yaml" 2>/dev/null
  register "$net/alone/leader/data"
  drive "to a leader without replicas" http://127.0.0.1:18301
  CLUSTER_DIR="$net/alone" scripts/cluster.sh down "$net/alone.yaml" 2>/dev/null

  CLUSTER_DIR="$net/pair" scripts/cluster.sh up "$net/pair.yaml" 2>/dev/null
  register "$net/pair/leader/data"
  drive "to the leader, each write acknowledged by its replica" http://127.0.0.1:18301
  lag
  # Restarted on the same data: the lag figures start afresh.
  CLUSTER_DIR="$net/pair" scripts/cluster.sh down "$net/pair.yaml" 2>/dev/null
  CLUSTER_DIR="$net/pair" scripts/cluster.sh up "$net/pair.yaml" 2>/dev/null
  drive "through the replica (forwarded to the leader over CAF/TLS)" http://127.0.0.1:18302
  lag
  echo "== the replica after the runs"
  curl -fs http://127.0.0.1:18302/api/status; echo
  CLUSTER_DIR="$net/pair" scripts/cluster.sh down "$net/pair.yaml" 2>/dev/null
fi

if [ -z "$only" ] || [ "$only" = witness ]; then
  [ -n "${server:-}" ] && { kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; }
  server=
  net="$data/network"
  mkdir -p "$net"
  export CIVIC_ATTEST=$bin CLUSTER_NODE_ARGS="--http-threads 2 ${LOAD_SERVE_ARGS:-}"
  witness_topology() { # FILE COUNT
    {
      echo "origin: load.example/witnessed"
      echo "regions: [{name: here}]"
      echo "nodes:"
      echo "  - {name: leader, region: here, caf_port: 17301, http_port: 18301, roles: [leader], data: leader/data, log_key: leader.key}"
      for i in $(seq 1 "$2"); do
        echo "  - {name: w$i, region: here, caf_port: $((17310 + i)), http_port: $((18310 + i)), roles: [witness], data: w$i/data, witness_key: w$i.key}"
      done
      if [ "$2" -gt 0 ]; then
        echo "policy: |"
        members=""
        for i in $(seq 1 "$2"); do echo "  witness w$i"; members="$members w$i"; done
        echo "  group all $(($2 / 2 + 1))$members"
        echo "  quorum all"
      fi
    } > "$1"
  }
  quorum_times() {
    curl -fs http://127.0.0.1:18301/api/status | python3 -c '
import json, sys
w = json.load(sys.stdin).get("witnessing")
if w:
    print("time to quorum: p50 %.1f ms, p95 %.1f ms over %d rounds (%d with quorum)" % (
        w["time_to_quorum_p50_us"] / 1000, w["time_to_quorum_p95_us"] / 1000,
        w["rounds"], w["quorum_rounds"]))'
  }
  # LOAD_WITNESSES="0 3 0 3 0 3" alternates, to compare signing with and
  # without witnesses as ratios within one run; LOAD_IDLE=0 skips the idle rounds.
  run=0
  for n in ${LOAD_WITNESSES:-0 3 5 7 10}; do
    run=$((run + 1))
    name=w$n-$run # a fresh network for every run
    witness_topology "$net/$name.yaml" "$n"
    CLUSTER_DIR="$net/$name" scripts/cluster.sh up "$net/$name.yaml" 2>/dev/null
    "$bin" identity add --server http://127.0.0.1:18301 \
      --token-file "$net/$name/leader/data/admin.token" --identity load/clerk >/dev/null 2>&1
    TOKEN=$("$bin" token add --data "$net/$name/leader/data" --identity load/clerk --label load)
    if [ "$n" -gt 0 ] && [ "${LOAD_IDLE:-1}" != 0 ]; then
      # Idle: one entry per round (the collector's cadence is 1 s).
      for i in $(seq 12); do
        curl -fs -X POST -H "Authorization: Bearer $TOKEN" \
          -d "{\"identity\":\"load/clerk\",\"content_sha256\":\"$(printf '%064x' "$i")\"}" \
          http://127.0.0.1:18301/api/sign >/dev/null
        sleep 1.05
      done
      echo "== $n witnesses, quorum $((n / 2 + 1)), idle"
      quorum_times
      CLUSTER_DIR="$net/$name" scripts/cluster.sh down "$net/$name.yaml" 2>/dev/null
      CLUSTER_DIR="$net/$name" scripts/cluster.sh up "$net/$name.yaml" 2>/dev/null
    fi
    echo "== POST /api/sign with $n witnesses: ${connections} connections, ${seconds} s"
    wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/sign.lua http://127.0.0.1:18301
    [ "$n" -gt 0 ] && { echo "== $n witnesses, under that load"; quorum_times; }
    CLUSTER_DIR="$net/$name" scripts/cluster.sh down "$net/$name.yaml" 2>/dev/null
  done
fi

if [ "$only" = witnessed ] || [ -z "$only" ]; then
  [ -n "${server:-}" ] && { kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; }
  server=
  net="$data/witnessed"
  mkdir -p "$net"
  export CIVIC_ATTEST=$bin CLUSTER_NODE_ARGS="--http-threads 2 ${LOAD_SERVE_ARGS:-}"
  {
    echo "origin: load.example/witnessed-answers"
    echo "regions: [{name: here}]"
    echo "nodes:"
    echo "  - {name: leader, region: here, caf_port: 17401, http_port: 18401, roles: [leader], data: leader/data, log_key: leader.key}"
    for i in 1 2 3; do
      echo "  - {name: w$i, region: here, caf_port: $((17410 + i)), http_port: $((18410 + i)), roles: [witness], data: w$i/data, witness_key: w$i.key}"
    done
    echo "policy: |"
    echo "  witness w1"
    echo "  witness w2"
    echo "  witness w3"
    echo "  group all 2 w1 w2 w3"
    echo "  quorum all"
  } > "$net/witnessed.yaml"
  CLUSTER_DIR="$net/run" scripts/cluster.sh up "$net/witnessed.yaml" 2>/dev/null
  "$bin" identity add --server http://127.0.0.1:18401 \
    --token-file "$net/run/leader/data/admin.token" --identity load/clerk >/dev/null 2>&1
  TOKEN=$("$bin" token add --data "$net/run/leader/data" --identity load/clerk --label load)
  export TOKEN IDENTITY=load/clerk
  echo "== POST /api/sign, 3 witnesses (2 of 3): ${connections} connections, ${seconds} s"
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/sign.lua http://127.0.0.1:18401
  echo "== POST /api/sign with \"witnessed\": true offered at ${LOAD_WITNESSED_RATE:-1000}/s (open loop): ${connections} connections, ${seconds} s"
  RATE=${LOAD_WITNESSED_RATE:-1000} THREADS=2 \
    wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/sign_witnessed.lua http://127.0.0.1:18401
  curl -fs http://127.0.0.1:18401/api/status | python3 -c '
import json, sys
w = json.load(sys.stdin)["witnessing"]
print("rounds %d (%d started for witnessed requests), time to quorum p50 %.1f ms, p95 %.1f ms" % (
    w["rounds"], w["demand_rounds"], w["time_to_quorum_p50_us"] / 1000, w["time_to_quorum_p95_us"] / 1000))'
  echo "== POST /api/sign again: ${connections} connections, ${seconds} s"
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/sign.lua http://127.0.0.1:18401
  CLUSTER_DIR="$net/run" scripts/cluster.sh down "$net/witnessed.yaml" 2>/dev/null
fi
