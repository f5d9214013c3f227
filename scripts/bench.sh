#!/usr/bin/env bash
# Builds the benchmark programs in a separate Release build (build-release/) and
# runs them: the protocol primitives (with ratios to the raw primitives), the
# storage layer (fsync'd commits, durable batched appends) and the ledger actor.
#   scripts/bench.sh                                  both suites
#   scripts/bench.sh protocol|storage [ARGS]          one Google Benchmark suite
#   scripts/bench.sh ledger [--entries N --clients C --window W]   the ledger actor
#   scripts/bench.sh protocol --benchmark_filter='merkle|proof'
#   scripts/bench.sh simulation [--duration 1h]       the simulator on one core:
#       one hour of topologies/multi-region-10.yaml at 50 submissions/s (target: <= 60 s)
# Extra arguments go to the benchmark programs.
set -euo pipefail

cd "$(dirname "$0")/.."

say() { printf 'bench: %s\n' "$*" >&2; }

scripts/setup.sh

build_dir=build-release
say "configuring ${build_dir} (Release)"
cmake -S . -B "${build_dir}" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCIVIC_WERROR=ON -DCIVIC_BENCH=ON >/dev/null
suites=(protocol storage ledger)
case "${1:-}" in
  protocol | storage | ledger | simulation) suites=("$1"); shift ;;
  all) shift ;;
esac
targets=()
for s in "${suites[@]}"; do
  if [ "$s" = simulation ]; then targets+=(civic-attest); else targets+=("civic-bench-$s"); fi
done
say "building ${targets[*]}"
cmake --build "${build_dir}" --target "${targets[@]}" --parallel 2

cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^[[:space:]]*//' || true)
if grep -qw sha_ni /proc/cpuinfo; then sha_ni=yes; else sha_ni=no; fi
echo "machine: $(nproc) CPUs available, ${cpu_model:-unknown CPU}, SHA extensions (sha_ni): ${sha_ni}"
echo

for s in "${suites[@]}"; do
  if [ "$s" = simulation ]; then
    # One core (the simulator is one thread); wall time and peak memory from GNU time.
    echo "== civic-attest simulate (pinned to CPU 0)"
    args=(--topology topologies/multi-region-10.yaml --seed 7 --json "${build_dir}/simulation.json")
    if [ $# -gt 0 ]; then args+=("$@"); else args+=(--duration 1h --rate 50); fi
    /usr/bin/time -f 'wall %e s, user %U s, peak RSS %M KiB' \
      taskset -c 0 "${build_dir}/bin/civic-attest" simulate "${args[@]}"
    echo
    continue
  fi
  echo "== civic-bench-$s"
  # Storage and ledger fsync for real: their data goes to the build dir on disk, not /tmp.
  if [ "$s" = ledger ]; then
    if [ ${#suites[@]} -gt 1 ]; then
      "${build_dir}/bin/civic-bench-ledger" --entries 200000 --clients 16 --window 256 --dir "${build_dir}/bench-data"
    else
      "${build_dir}/bin/civic-bench-ledger" --dir "${build_dir}/bench-data" "$@"
    fi
  else
    CIVIC_BENCH_DIR="${build_dir}/bench-data" "${build_dir}/bin/civic-bench-$s" "$@"
  fi
  echo
done
