#!/usr/bin/env bash
# Brings up the three-region network of topologies/local-3region.yaml on
# 127.0.0.1 (a leader and two replicas, TLS between them), registers an
# identity, signs documents through *different* nodes (replicas forward to the
# leader), reads them back from the replicas, stops the network, verifies every
# proof offline with nothing but the log's public key, and shows a tampered
# document failing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" --target civic-attest
bin=$PWD/build/bin/civic-attest
topology=topologies/local-3region.yaml
work=$(mktemp -d /tmp/civic-attest-demo.XXXXXX)
export CLUSTER_DIR=$work/network
cluster_down() { scripts/cluster.sh down "$topology" >/dev/null 2>&1 || true; }
trap cluster_down EXIT
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
leader=http://127.0.0.1:18101
replica_us=http://127.0.0.1:18102
replica_ap=http://127.0.0.1:18103

step "1. Bring up $topology: CA and node certificates, the log key, three nodes"
run scripts/cluster.sh up "$topology"
run scripts/cluster.sh status "$topology"

step "2. Register an identity at the leader (admin token) and give its clerk a signing token"
register=("$bin" identity add --server "$leader" \
  --token-file "$CLUSTER_DIR/leader-eu/data/admin.token" --identity town-of-example/clerk)
printf '$ %s\n' "${register[*]}"
clerk_key=$("${register[@]}")
echo "clerk public key: $clerk_key"
"$bin" token add --data "$CLUSTER_DIR/leader-eu/data" --identity town-of-example/clerk \
  --label clerk > "$work/clerk.token"
chmod 600 "$work/clerk.token"
echo "clerk token written to $work/clerk.token"

step "3. Sign one document through each node: replicas forward to the leader over CAF/TLS"
n=0
for server in "$leader" "$replica_us" "$replica_ap"; do
  n=$((n + 1))
  printf 'Council minutes no. %s: the library opens on Sundays.\n' "$n" > "$work/minutes-$n.txt"
  run "$bin" sign --server "$server" --token-file "$work/clerk.token" \
    --identity town-of-example/clerk --file "$work/minutes-$n.txt"
done
echo; cat "$work/minutes-2.txt.tlog-proof"

step "4. Read the entries back from the replicas, and every node's checkpoint (signature checked)"
for i in 1 2 3; do
  run "$bin" log entry --server "$replica_ap" --index "$i" | head -n 4
done
for server in "$leader" "$replica_us" "$replica_ap"; do
  run "$bin" log checkpoint --server "$server" --vkey "$CLUSTER_DIR/log.vkey"
done
run "$bin" log proof --server "$replica_us" --index 2 --vkey "$CLUSTER_DIR/log.vkey"

step "5. Witnesses: the leader's checkpoint cosigned by the three witnesses (2 of 3 needed)"
sleep 2 # the leader asks its witnesses once a second
run curl -fsS "$leader/checkpoint"
run "$bin" log bundle --server "$replica_us" --index 2
"$bin" log bundle --server "$leader" --index 2 > "$work/minutes-2.witnessed.tlog-proof" 2>/dev/null
run cat "$CLUSTER_DIR/policy.txt"

step "6. Stop the network: what follows needs no server"
run scripts/cluster.sh down "$topology"

step "7. Verify offline with the log's verifier key, and the witnessed bundle against the policy"
for n in 1 2 3; do
  run "$bin" verify --proof "$work/minutes-$n.txt.tlog-proof" --content "$work/minutes-$n.txt" \
    --log-key "$(cat "$CLUSTER_DIR/log.vkey")"
done

run "$bin" verify --proof "$work/minutes-2.witnessed.tlog-proof" --content "$work/minutes-2.txt" \
  --policy "$CLUSTER_DIR/policy.txt"

step "8. A tampered document fails"
sed 's/Sundays/Mondays/' "$work/minutes-2.txt" > "$work/tampered.txt"
if run "$bin" verify --proof "$work/minutes-2.txt.tlog-proof" --content "$work/tampered.txt" \
  --log-key "$(cat "$CLUSTER_DIR/log.vkey")"; then
  echo "demo: the tampered document verified: that is a bug" >&2
  exit 1
fi
echo
echo "demo: done; files in $work, node logs in $CLUSTER_DIR/*.log"
echo "(one node alone: civic-attest init + serve; the protocol walkthrough with witnesses:"
echo " civic-attest protocol-demo --dir DIR)"
