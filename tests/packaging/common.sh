# Helpers for the packaging tests (sourced). Every wait is for a line or a port, bounded.

fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_for_line FILE REGEX [SECONDS]: prints the first line of FILE matching REGEX.
wait_for_line() {
  local file=$1 pattern=$2 deadline=$((SECONDS + ${3:-20}))
  while [ $SECONDS -lt $deadline ]; do
    if grep -Eq -- "$pattern" "$file" 2>/dev/null; then grep -Em1 -- "$pattern" "$file"; return 0; fi
    sleep 0.05
  done
  echo "no line matching '$pattern' in $file; it has:" >&2
  cat "$file" >&2
  return 1
}

# expect WHAT GOT WANT
expect() { [ "$2" = "$3" ] || fail "$1: got '$2', wanted '$3'"; }
