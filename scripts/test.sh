#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: a plain optimised build, then the whole
# suite again under AddressSanitizer + UndefinedBehaviorSanitizer, then the threading tests under
# ThreadSanitizer. Ends with one line: "tests: N passed, N failed".
#   scripts/test.sh [release|asan|tsan ...]     (default: all three)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh" || exit 1

flavours=("$@")
[ ${#flavours[@]} -gt 0 ] || flavours=(release asan tsan)

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

passed=0
failed=0
for flavour in "${flavours[@]}"; do
  echo "=== $flavour: build" >&2
  if ! "$root/scripts/build.sh" "$flavour"; then
    echo "=== $flavour: build FAILED" >&2
    failed=$((failed + 1))
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
  passed=$((passed + total - bad))
  failed=$((failed + bad))
done

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
