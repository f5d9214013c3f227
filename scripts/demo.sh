#!/usr/bin/env bash
# Starts a real Civic Attest node (single node, every role) on 127.0.0.1,
# registers an identity, signs a few documents through the HTTP API, verifies
# their proofs offline with nothing but the log's public key, shows a tampered
# document failing, and stops the node.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" --target civic-attest
bin=$PWD/build/bin/civic-attest
port=${DEMO_PORT:-18080}
work=$(mktemp -d /tmp/civic-attest-demo.XXXXXX)
server=
stop_node() { if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=; fi; }
trap stop_node EXIT
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. A new data directory: log key, admin token, LMDB store"
run "$bin" init --data "$work/node" --origin demo.civic-attest.example/log

step "2. Start the node (ledger, signer, committer actors; HTTP API on 127.0.0.1:$port)"
"$bin" serve --data "$work/node" --listen "127.0.0.1:$port" 2>"$work/node.log" &
server=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$port/healthz"; echo

step "3. Register an identity (admin token) and give its clerk a signing token"
# identity add prints only the new public key on stdout, so it can be captured.
register=("$bin" identity add --server "http://127.0.0.1:$port" \
  --token-file "$work/node/admin.token" --identity town-of-example/clerk)
printf '$ %s\n' "${register[*]}"
clerk_key=$("${register[@]}")
echo "clerk public key: $clerk_key"
run "$bin" identity list --server "http://127.0.0.1:$port"
"$bin" token add --data "$work/node" --identity town-of-example/clerk --label clerk > "$work/clerk.token"
chmod 600 "$work/clerk.token"
echo "clerk token written to $work/clerk.token"

step "4. Sign three documents (only their SHA-256 leaves this machine)"
for n in 1 2 3; do
  printf 'Council minutes no. %s: the library opens on Sundays.\n' "$n" > "$work/minutes-$n.txt"
  run "$bin" sign --server "http://127.0.0.1:$port" --token-file "$work/clerk.token" \
    --identity town-of-example/clerk --file "$work/minutes-$n.txt"
done
echo; cat "$work/minutes-2.txt.tlog-proof"

step "5. The log's public checkpoint (C2SP tlog-tiles: GET /checkpoint), its signature checked"
run "$bin" log checkpoint --server "http://127.0.0.1:$port" --vkey "$work/node/log.vkey"

step "6. Stop the node: what follows needs no server"
stop_node
echo "node stopped"

step "7. Verify offline with the log's verifier key"
for n in 1 2 3; do
  run "$bin" verify --proof "$work/minutes-$n.txt.tlog-proof" --content "$work/minutes-$n.txt" \
    --log-key "$(cat "$work/node/log.vkey")"
done

step "8. A tampered document fails"
sed 's/Sundays/Mondays/' "$work/minutes-2.txt" > "$work/tampered.txt"
if run "$bin" verify --proof "$work/minutes-2.txt.tlog-proof" --content "$work/tampered.txt" \
  --log-key "$(cat "$work/node/log.vkey")"; then
  echo "demo: the tampered document verified: that is a bug" >&2
  exit 1
fi
echo
echo "demo: done; files in $work (the protocol-level walkthrough with witnesses: civic-attest protocol-demo --dir DIR)"
