#!/usr/bin/env bash
# `civic-attest simulate` as users run it: the same seed in two processes gives
# byte-identical JSON reports (with faults), another seed another report, and a
# short --fuzz run passes. Usage: simulate_cli_test.sh CIVIC_ATTEST TOPOLOGIES_DIR
set -euo pipefail
bin=$1 topologies=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() {
  "$bin" simulate --topology "$topologies/local-3region.yaml" --duration 20s --settle 15s \
    --crash leader-eu@4s+3s --partition 9s+5s=ap-south --loss 0.02 --equivocate 15s "$@"
}
run --seed 11 --json "$work/a.json" >"$work/a.txt"
run --seed 11 --json "$work/b.json" >/dev/null
run --seed 12 --json "$work/c.json" >/dev/null
cmp "$work/a.json" "$work/b.json" || { echo "FAIL: seed 11 gave two reports"; diff "$work/a.json" "$work/b.json"; exit 1; }
if cmp -s "$work/a.json" "$work/c.json"; then echo "FAIL: seeds 11 and 12 gave the same report"; exit 1; fi
grep -q '"violations": \[\]' "$work/a.json" || { echo "FAIL: violations"; cat "$work/a.txt"; exit 1; }
grep -q "invariant violations *0" "$work/a.txt" || { echo "FAIL: the table"; cat "$work/a.txt"; exit 1; }
"$bin" simulate --topology "$topologies/local-3region.yaml" --duration 15s --settle 20s \
  --fuzz 3 --seed 500 >"$work/fuzz.txt" 2>/dev/null || { echo "FAIL: fuzz"; cat "$work/fuzz.txt"; exit 1; }
grep -q "3 seeds with random faults, 0 broke an invariant" "$work/fuzz.txt"
echo "PASS: deterministic across processes, a short fuzz run keeps every invariant"
