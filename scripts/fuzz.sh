#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of the protocol library.
#
#   scripts/fuzz.sh TARGET SECONDS
#
# TARGET is one of the tests/fuzz/fuzz_<target>.cpp names, or "all" (each target for
# SECONDS). Seeds come from tests/fuzz/corpus/<target>/; new inputs go to a scratch
# corpus in build-fuzz/corpus/<target>/, crash inputs to build-fuzz/artifacts/<target>/,
# and the fuzzer's output to build-fuzz/logs/<target>.log. Every file in
# tests/fuzz/regressions/<target>/ is replayed first. Exits 1 if any target crashed
# (or a regression input still fails), 2 on bad arguments.
#
# Environment: FUZZ_SKIP_SETUP=1 skips scripts/setup.sh; FUZZ_BUILD_JOBS (default 2)
# caps the build's parallelism; FUZZ_JOBS (default: the number of cores) how many
# targets fuzz at once.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build-fuzz
mapfile -t known < <(find tests/fuzz -maxdepth 1 -name 'fuzz_*.cpp' -printf '%f\n' | sed 's/^fuzz_//; s/\.cpp$//' | sort)

usage() {
  echo "usage: $0 TARGET SECONDS" >&2
  echo "  TARGET:  all | ${known[*]}" >&2
  echo "  SECONDS: fuzzing time per target (positive integer)" >&2
}

if [ $# -ne 2 ]; then
  usage
  exit 2
fi
target=$1
seconds=$2
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "error: SECONDS must be a positive integer, got '$seconds'" >&2
  usage
  exit 2
fi
if [ "$target" = all ]; then
  targets=("${known[@]}")
else
  found=0
  for k in "${known[@]}"; do [ "$k" = "$target" ] && found=1; done
  if [ $found -eq 0 ]; then
    echo "error: unknown target '$target'; known targets: ${known[*]}" >&2
    usage
    exit 2
  fi
  targets=("$target")
fi

# Largest input per target: a bit above each parser's own size limit where that is
# small enough to be worth reaching, otherwise a size that covers every structure.
max_len_for() {
  case $1 in
    note | checkpoint | tlog_proof) echo 300000 ;; # notes are capped at 256 KiB
    policy | log_list) echo 65536 ;;
    add_checkpoint) echo 16384 ;; # a checkpoint note and 63 proof lines
    entry) echo 2048 ;;  # entries are at most 1228 bytes
    merkle) echo 4096 ;; # 16 + 32 * (64 hashes + leaf + root) = 2224
    vkey | base64) echo 4096 ;;
    tile_path | cosignature) echo 256 ;;
    *) echo 4096 ;;
  esac
}

if [ "${FUZZ_SKIP_SETUP:-0}" != 1 ]; then
  scripts/setup.sh
fi

if [ ! -f "$build_dir/build.ninja" ] || ! grep -q '^CIVIC_FUZZ:BOOL=ON$' "$build_dir/CMakeCache.txt" 2>/dev/null; then
  cmake -S . -B "$build_dir" -G Ninja -DCIVIC_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
build_targets=()
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
ninja -C "$build_dir" -j "${FUZZ_BUILD_JOBS:-2}" "${build_targets[@]}"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Fuzzes one target; what it has to say goes to $build_dir/logs/<target>.report
# (printed in target order once all have run). Exits 1 if the target failed.
fuzz_one() {
  local t=$1
  local bin="$build_dir/bin/fuzz_$t"
  local seeds="tests/fuzz/corpus/$t"
  local work="$build_dir/corpus/$t"
  local artifacts="$build_dir/artifacts/$t"
  local log="$build_dir/logs/$t.log"
  local report="$build_dir/logs/$t.report"
  mkdir -p "$work" "$artifacts" "$build_dir/logs"
  local corpora=("$work")
  if [ -d "$seeds" ]; then
    cp -R "$seeds/." "$work/"
    corpora+=("$seeds")
  fi
  : >"$log"
  exec 3>"$report"
  echo "=== fuzz_$t: ${seconds}s (max_len $(max_len_for "$t")); log $log" >&3

  local status=0
  local regressions="tests/fuzz/regressions/$t"
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    echo "--- replaying $regressions" >&3
    local inputs
    mapfile -t inputs < <(find "$regressions" -type f | sort)
    if ! "$bin" -detect_leaks=1 "${inputs[@]}" >>"$log" 2>&1; then
      echo "FAIL fuzz_$t: a regression input in $regressions still fails" >&3
      status=1
    fi
  fi

  if ! "$bin" -max_total_time="$seconds" -max_len="$(max_len_for "$t")" -timeout=10 \
    -print_final_stats=1 -detect_leaks=1 -artifact_prefix="$artifacts/" \
    "${corpora[@]}" >>"$log" 2>&1; then
    echo "FAIL fuzz_$t: the fuzzer found a crash (inputs in $artifacts/)" >&3
    status=1
  fi

  if [ $status -ne 0 ]; then
    # The first report: harness message or sanitizer error, stack, and the unit's file name.
    awk '/^==[0-9]+== ?ERROR|runtime error|^fuzz_[a-z_]+: / { p = 1 } p { print } p && /^SUMMARY:/ { exit }' \
      "$log" >&3
    grep -E 'Test unit written to' "$log" >&3 || true
  fi
  grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 >&3 || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" >&3 || true
  exec 3>&-
  return $status
}

# Targets run side by side, one per core (FUZZ_JOBS): each still gets its
# SECONDS of fuzzing, on a core of its own.
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
declare -A pid_of
failed=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$t" &
  pid_of[$t]=$!
done
for t in "${targets[@]}"; do
  if ! wait "${pid_of[$t]}"; then failed+=("$t"); fi
  cat "$build_dir/logs/$t.report" >&2
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crashes (${targets[*]})" >&2
