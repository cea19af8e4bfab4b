#!/usr/bin/env bash
# Runs a perf tool (directly or through a launcher) and checks how it ended.
#   expect_perf_run.sh ok [CHECKS] CMD [ARGS...]     exit status 0 and "# Out of bounds values : 0 OK"
#   expect_perf_run.sh usage [CHECKS] CMD [ARGS...]  exit status 2 and a pointer to --help
# CHECKS, repeatable: --expect TEXT (the output holds TEXT), --reject TEXT (it does not).
set -uo pipefail

mode=$1
shift
expected=() rejected=()
while [[ $# -gt 1 && ( $1 == --expect || $1 == --reject ) ]]; do
  if [[ $1 == --expect ]]; then expected+=("$2"); else rejected+=("$2"); fi
  shift 2
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$@" >"$out" 2>&1
rc=$?
cat "$out"

fail() {
  echo "expect_perf_run.sh: $*" >&2
  exit 1
}

case $mode in
  ok)
    [[ $rc -eq 0 ]] || fail "exit status $rc, expected 0"
    grep -q "# Out of bounds values : 0 OK" "$out" || fail "no '# Out of bounds values : 0 OK'"
    ;;
  usage)
    [[ $rc -eq 2 ]] || fail "exit status $rc, expected 2 (usage error)"
    grep -q -- "--help" "$out" || fail "the usage error does not point to --help"
    ;;
  *)
    fail "unknown mode '$mode'"
    ;;
esac
for text in "${expected[@]+"${expected[@]}"}"; do
  grep -qF -- "$text" "$out" || fail "the output lacks '$text'"
done
for text in "${rejected[@]+"${rejected[@]}"}"; do
  if grep -qF -- "$text" "$out"; then fail "the output holds '$text'"; fi
done
