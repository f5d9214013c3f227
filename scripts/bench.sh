#!/usr/bin/env bash
# Builds the benchmark programs in a separate Release build (build-release/) and
# runs them. Extra arguments go to the benchmark program, e.g.
#   scripts/bench.sh --benchmark_filter='merkle|proof'
set -euo pipefail

cd "$(dirname "$0")/.."

say() { printf 'bench: %s\n' "$*" >&2; }

scripts/setup.sh

build_dir=build-release
say "configuring ${build_dir} (Release)"
cmake -S . -B "${build_dir}" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCIVIC_WERROR=ON -DCIVIC_BENCH=ON >/dev/null
say "building civic-bench-protocol"
cmake --build "${build_dir}" --target civic-bench-protocol --parallel 2

cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^[[:space:]]*//' || true)
if grep -qw sha_ni /proc/cpuinfo; then sha_ni=yes; else sha_ni=no; fi
echo "machine: $(nproc) CPUs available, ${cpu_model:-unknown CPU}, SHA extensions (sha_ni): ${sha_ni}"
echo

"${build_dir}/bin/civic-bench-protocol" "$@"
