#!/usr/bin/env bash
# Builds the benchmark programs in a separate Release build (build-release/) and
# runs them: the protocol primitives (with ratios to the raw primitives), the
# storage layer (fsync'd commits, durable batched appends) and the ledger actor.
#   scripts/bench.sh                                  both suites
#   scripts/bench.sh protocol|storage [ARGS]          one Google Benchmark suite
#   scripts/bench.sh ledger [--entries N --clients C --window W]   the ledger actor
#   scripts/bench.sh protocol --benchmark_filter='merkle|proof'
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
  protocol | storage | ledger) suites=("$1"); shift ;;
  all) shift ;;
esac
targets=()
for s in "${suites[@]}"; do targets+=("civic-bench-$s"); done
say "building ${targets[*]}"
cmake --build "${build_dir}" --target "${targets[@]}" --parallel 2

cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^[[:space:]]*//' || true)
if grep -qw sha_ni /proc/cpuinfo; then sha_ni=yes; else sha_ni=no; fi
echo "machine: $(nproc) CPUs available, ${cpu_model:-unknown CPU}, SHA extensions (sha_ni): ${sha_ni}"
echo

for s in "${suites[@]}"; do
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
