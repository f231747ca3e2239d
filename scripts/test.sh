#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: a plain optimised build, then the whole
# suite again under AddressSanitizer + UndefinedBehaviorSanitizer, then the threading tests under
# ThreadSanitizer, then each libFuzzer harness for SOCKSERV_FUZZ_SECONDS (30) seconds, as many at a
# time as there are cores. Ends with one line: "tests: N passed, N failed".
#   scripts/test.sh [release|asan|tsan|fuzz ...]     (default: all four)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh" || exit 1

flavours=("$@")
[ ${#flavours[@]} -gt 0 ] || flavours=(release asan tsan fuzz)

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

# One harness, for a bounded time, growing its corpus in build/fuzz/corpus (the seeds in the repo
# are only read). Any crash, leak, sanitizer report or failed property fails it; the input is kept.
fuzz_one() {
  local harness=$1 name=${1#"$root/build/fuzz/bin/fuzz_"} seconds=$2
  local work="$root/build/fuzz/corpus/$name" found="$root/build/fuzz/found/$name" dict=()
  mkdir -p "$work" "$found"
  # A harness's dictionary (tests/fuzz/dicts/NAME.dict), if it has one: words it must put together.
  [ -f "$root/tests/fuzz/dicts/$name.dict" ] && dict=(-dict="$root/tests/fuzz/dicts/$name.dict")
  if "$harness" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       "${dict[@]}" -artifact_prefix="$found/" "$work" "$root/tests/fuzz/corpus/$name" >"$root/build/fuzz/$name.log" 2>&1; then
    echo "fuzz $name: passed ($(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$root/build/fuzz/$name.log" | grep -Eo '[0-9]+$') runs)"
  else
    echo "fuzz $name: FAILED; log build/fuzz/$name.log; the input is in build/fuzz/found/$name/:"
    echo "  fix it, then add the input to tests/fuzz/regressions/$name/"
    grep -E 'ERROR:|SUMMARY:|property failed' "$root/build/fuzz/$name.log" | head -5
  fi
}

passed=0
failed=0
for flavour in "${flavours[@]}"; do
  echo "=== $flavour: build" >&2
  if ! "$root/scripts/build.sh" "$flavour"; then
    echo "=== $flavour: build FAILED" >&2
    failed=$((failed + 1))
    continue
  fi
  if [ "$flavour" = fuzz ]; then
    echo "=== fuzz: ${SOCKSERV_FUZZ_SECONDS:-30} s per harness" >&2
    export -f fuzz_one
    export root
    log="$root/build/fuzz/fuzz.log"
    printf '%s\n' "$root"/build/fuzz/bin/fuzz_* |
      xargs -P "$(nproc)" -I{} bash -c 'fuzz_one "$1" "$2"' _ {} "${SOCKSERV_FUZZ_SECONDS:-30}" | tee "$log"
    passed=$((passed + $(grep -c ': passed' "$log")))
    failed=$((failed + $(grep -c ': FAILED' "$log")))
    continue
  fi
  echo "=== $flavour: test" >&2
  log="$root/build/$flavour/ctest.log"
  (cd "$root/build/$flavour" && ctest -j"$(nproc)" --output-on-failure --timeout 300) | tee "$log"
  summary=$(grep -E '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -z "$summary" ]; then
    echo "=== $flavour: ctest gave no summary" >&2
    failed=$((failed + 1))
    continue
  fi
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  bad=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$summary")
  if [ "$flavour" = tsan ] && [ "$bad" -gt 0 ] && [ "$bad" -le 2 ]; then
    # One rerun of what failed, under TSan only, and said out loud: its runtime delivers a signal
    # that arrives outside a blocking call at the thread's next call into it, which with fibers
    # has made a SIGTERM stop rarely never arrive (tftp's event-2 stop test: 2 of ~200 stressed
    # runs; both loops then wait in epoll_wait as if no stop was asked, no signal pending, and
    # TSan's own thread blocks every signal). A test that fails twice still fails.
    echo "=== tsan: rerunning once: $(grep -E '^\s+[0-9]+ - ' "$log" | sed -E 's/^\s+[0-9]+ - //' | tr '\n' ';')" >&2
    (cd "$root/build/$flavour" && ctest --rerun-failed --output-on-failure --timeout 300) | tee "$log.rerun"
    again=$(grep -E '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log.rerun" | tail -1 |
      sed -E 's/.* ([0-9]+) tests failed.*/\1/')
    [ -n "$again" ] && { echo "=== tsan: flaky: $((bad - again)) passed on the rerun" >&2; bad=$again; }
  fi
  passed=$((passed + total - bad))
  failed=$((failed + bad))
done

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
