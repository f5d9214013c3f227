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
# A fuzz run that breaks an invariant (a planted bug) names the seed and a
# command that reproduces exactly that run.
if "$bin" simulate --topology "$topologies/local-3region.yaml" --duration 15s --settle 15s \
  --fuzz 2 --seed 40 --plant stale-replica >"$work/broken.txt" 2>/dev/null; then
  echo "FAIL: a planted bug passed the fuzz run"; cat "$work/broken.txt"; exit 1
fi
grep -q "2 seeds with random faults, 2 broke an invariant" "$work/broken.txt"
command=$(grep -m1 'reproduce: civic-attest ' "$work/broken.txt" | sed 's/.*reproduce: civic-attest //')
violation=$(grep -m1 '^  seed 40, ' "$work/broken.txt" | sed 's/^ *//')
[ -n "$command" ] && [ -n "$violation" ] || { echo "FAIL: no reproduction"; cat "$work/broken.txt"; exit 1; }
# shellcheck disable=SC2086 # the command is words to split
"$bin" $command >"$work/again.txt" || true
grep -qF "$violation" "$work/again.txt" || { echo "FAIL: the command did not reproduce: $violation"; cat "$work/again.txt"; exit 1; }
echo "PASS: deterministic across processes, a short fuzz run keeps every invariant, a broken seed reproduces"
