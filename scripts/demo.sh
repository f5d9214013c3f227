#!/usr/bin/env bash
# Builds civic-attest and walks through what the protocol layer does today: keys,
# a ledger of signed statements, a checkpoint signed by the log and cosigned by
# witnesses, an offline-verifiable bundle, and a tampered document failing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs" --target civic-attest
bin=build/bin/civic-attest

dir=$(mktemp -d /tmp/civic-attest-demo.XXXXXX)
"$bin" protocol-demo --dir "$dir" --entries "${DEMO_ENTRIES:-10000}"

echo
echo "== 7. The same check with the CLI, as anyone holding the files would run it"
echo "\$ civic-attest verify --proof $dir/document.tlog-proof --content $dir/document.txt --policy $dir/policy.txt"
"$bin" verify --proof "$dir/document.tlog-proof" --content "$dir/document.txt" --policy "$dir/policy.txt"
echo "\$ civic-attest verify --proof $dir/document.tlog-proof --content $dir/tampered.txt --policy $dir/policy.txt"
if "$bin" verify --proof "$dir/document.tlog-proof" --content "$dir/tampered.txt" --policy "$dir/policy.txt"; then
  echo "demo: the tampered document verified: that is a bug" >&2
  exit 1
fi
echo
echo "demo: done; the files are in $dir"
