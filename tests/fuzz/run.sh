#!/usr/bin/env bash
# Fuzzes each harness of tests/fuzz for a bounded time with libFuzzer, one at a
# time, and fails when any of them finds a crash, a leak, a sanitizer report or a
# broken property.
#
#   tests/fuzz/run.sh [-t SECONDS] [-b BUILD_DIR] [-o OUT_DIR] [HARNESS...]
#
#   -t  seconds per harness (default $FUZZ_TIME or 60)
#   -b  a VS_FUZZ build directory; configured (CC=clang, -DVS_FUZZ=ON) when it has
#       no CMakeCache.txt yet (default build-fuzz)
#   -o  where each harness keeps its working corpus, log and crashes
#       (default BUILD_DIR/fuzz-out): OUT/<harness>/{corpus,crashes,log}
#   HARNESS  parse_client validate record merge schema (default: all)
#
# The working corpus starts from tests/fuzz/corpus/<harness> and
# tests/fuzz/regressions/<harness>, which libFuzzer only reads; what it learns
# stays in OUT and is reused by the next run. A crash input is copied to
# OUT/<harness>/crashes/; minimise it with
#   BUILD/tests/fuzz/fuzz_<harness> -minimize_crash=1 -runs=100000 CRASH
# and keep it as tests/fuzz/regressions/<harness>/<what-it-found>.
# FUZZ_SEED, when set, is libFuzzer's -seed (CI sets it, so that a red run can be
# repeated exactly; a fresh working corpus is needed for that too).
# VS_FUZZ_KNOWN (see fuzz.h) is passed through to skip the checks of known bugs.
# Needs clang and libclang-rt-14-dev (Debian 12). Prints "<harness>: N runs" per
# harness from libFuzzer's final "Done N runs" line.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_TIME:-60}
build=$top/build-fuzz
out=
while getopts "t:b:o:" opt; do
  case $opt in
    t) secs=$OPTARG ;;
    b) build=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,26p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(parse_client validate record merge schema)
out=${out:-$build/fuzz-out}

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S "$top" -B "$build" -DVS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
    { echo "fuzz: cannot configure $build (clang and libclang-rt-14-dev installed?)" >&2; exit 2; }
fi
grep -q '^VS_FUZZ:BOOL=ON' "$build/CMakeCache.txt" ||
  { echo "fuzz: $build is not a VS_FUZZ build (cmake -DVS_FUZZ=ON, CC=clang)" >&2; exit 2; }
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]}" >/dev/null ||
  { echo "fuzz: the build failed" >&2; exit 2; }

failed=()
for h in "${harnesses[@]}"; do
  dir=$out/$h
  mkdir -p "$dir/corpus" "$dir/crashes"
  args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$dir/crashes/")
  # A fixed seed (CI's) makes a failing run repeatable; unset, each run explores anew.
  [ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED")
  case $h in
    merge) args+=(-max_len=1024) ;;
    *) args+=(-max_len=8192 -dict="$top/tests/fuzz/json.dict") ;;
  esac
  # The store harnesses churn SQLite's page cache: a smaller ASan quarantine
  # saves a third of their time in page faults.
  asan=${ASAN_OPTIONS:-}
  case $h in validate|merge) asan=${ASAN_OPTIONS:-quarantine_size_mb=16} ;; esac
  seeds=("$top/tests/fuzz/corpus/$h")
  [ -d "$top/tests/fuzz/regressions/$h" ] && seeds+=("$top/tests/fuzz/regressions/$h")
  before=$(ls "$dir/crashes" | wc -l)
  ASAN_OPTIONS=$asan "$build/tests/fuzz/fuzz_$h" "${args[@]}" "$dir/corpus" "${seeds[@]}" \
    >"$dir/log" 2>&1
  rc=$?
  # "Done N runs in S second(s)" ends a run that found nothing; a crash has only the stats.
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$dir/log" |
         tail -1)
  [ -n "$runs" ] ||
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1) runs"
  after=$(ls "$dir/crashes" | wc -l)
  if [ $rc -ne 0 ] || [ "$after" -gt "$before" ]; then
    echo "$h: FAILED (exit $rc) after $runs; log $dir/log; new inputs in $dir/crashes:"
    ls -t "$dir/crashes" | head -$((after - before > 0 ? after - before : 1)) | sed 's/^/  /'
    grep -m3 -E '^(fuzz: |==[0-9]+==ERROR|SUMMARY)' "$dir/log" | sed 's/^/  /'
    failed+=("$h")
  else
    echo "$h: $runs, corpus $(ls "$dir/corpus" | wc -l) inputs"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ok"
