#!/usr/bin/env bash
# Runs a perf tool with --sim twice and checks that both runs pass the check and print the same
# table rows: simulated times (and so algbw and busbw) do not depend on how the threads ran.
#   expect_sim_repeatable.sh TOOL [ARGS...]
set -uo pipefail

first=$(mktemp)
second=$(mktemp)
trap 'rm -f "$first" "$second"' EXIT

fail() {
  echo "expect_sim_repeatable.sh: $*" >&2
  exit 1
}

for out in "$first" "$second"; do
  "$@" >"$out" 2>&1
  rc=$?
  cat "$out"
  [[ $rc -eq 0 ]] || fail "exit status $rc, expected 0"
  grep -q "# Out of bounds values : 0 OK" "$out" || fail "no '# Out of bounds values : 0 OK'"
  grep -q "^# Simulated .*time, algbw and busbw are simulated" "$out" ||
    fail "the header does not say the times are simulated"
done

rows() { grep -v '^#' "$1"; }
[[ -n $(rows "$first") ]] || fail "no table rows"
# Columns 6 and 10: the out-of-place and in-place times.
times() { rows "$1" | awk '{ print $6, $10 }'; }
[[ $(times "$first") == "$(times "$second")" ]] ||
  fail "simulated times differ between runs: $(times "$first") vs $(times "$second")"
[[ $(rows "$first") == "$(rows "$second")" ]] || fail "table rows differ between runs"
