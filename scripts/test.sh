#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the normal build through
# ctest, the same tests built with AddressSanitizer + UBSan, and a short run of
# every libFuzzer target. Ends with one summary line.
#
#   scripts/test.sh                 everything (what CI runs)
#   scripts/test.sh --quick         normal build and ctest only
#   scripts/test.sh --no-sanitize   skip the ASan/UBSan build
#   scripts/test.sh --no-fuzz       skip the fuzz smoke run
#   FUZZ_SECONDS=N                  seconds per fuzz target (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=1 fuzz=1
for arg in "$@"; do
  case "$arg" in
    --quick) sanitize=0 fuzz=0 ;;
    --no-sanitize) sanitize=0 ;;
    --no-fuzz) fuzz=0 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
jobs=$(nproc 2>/dev/null || echo 2)
passed=0 failed=0
start=$(date +%s)

scripts/setup.sh

# Runs ctest in a build dir and adds its counts to the totals.
run_ctest() {
  local dir=$1 log
  log=$(mktemp)
  set +e
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "test.sh: ctest in $dir printed no summary" >&2
    failed=$((failed + 1))
    return
  fi
  local nfail total
  nfail=$(sed -E 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + total - nfail))
  failed=$((failed + nfail))
  [ "$rc" -eq 0 ] || [ "$nfail" -gt 0 ] || failed=$((failed + 1))
}

# Debug information: line tables only (-g1). Stack traces and sanitizer reports
# still name file and line; full -g made the CAF- and Beast-heavy units compile
# 1.6x slower (node/service/service.cpp: 40 s against 25 s), and compiling is most of
# this script's time.
#
# Unity batches (CMAKE_UNITY_BUILD): each compiles the CAF, Beast and Catch2
# templates it uses once for up to eight files, not once a file. The six files
# of civic-tests-node, sanitizer flags, one job: 98 s one by one, 50 s as one
# batch (2026-12-02). Batches of sixteen: a clean sanitizer build took 375 s
# wall against 406 s in batches of eight (both trees, 2026-12-02, 2 cores). A
# build directory of your own compiles file by file unless you ask for it.
echo "== build (RelWithDebInfo, -g1) and test"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIVIC_BENCH=ON \
      -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
cmake --build build -j "$jobs"
run_ctest build

if [ "$sanitize" -eq 1 ]; then
  echo "== build with AddressSanitizer + UndefinedBehaviorSanitizer and test"
  # -O0: with ASan, g++ compiles the CAF and Beast code 3.6x faster than at -O1
  # (http_server.cpp: 22 s against 80 s), and the tests are short enough that
  # their slower run costs far less than that.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCIVIC_SANITIZE=ON -DCIVIC_BENCH=OFF \
        -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 -DCMAKE_CXX_FLAGS="-O0" \
        -DCMAKE_CXX_FLAGS_DEBUG="-g1" >/dev/null
  cmake --build build-asan -j "$jobs"
  # allocator_may_return_null: an impossible allocation (LMDB reading a garbled
  # page's sizes) fails as it does without ASan, with NULL, which the code
  # under test must handle; ASan's default is to abort the process instead.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest build-asan
fi

if [ "$fuzz" -eq 1 ]; then
  # 5 s a target: a smoke run (seeds, regressions, a few hundred thousand
  # inputs each) that keeps the whole run inside 20 minutes on 2 cores; longer
  # runs are `scripts/fuzz.sh all SECONDS`.
  echo "== fuzz smoke run: every target for ${FUZZ_SECONDS:-5} s"
  if FUZZ_SKIP_SETUP=1 scripts/fuzz.sh all "${FUZZ_SECONDS:-5}"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
fi

echo "test.sh: finished in $(( $(date +%s) - start )) s"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
