#!/usr/bin/env bash
# Runs a perf tool (directly or through a launcher) and checks how it ended.
#   expect_perf_run.sh ok CMD [ARGS...]     exit status 0 and "# Out of bounds values : 0 OK"
#   expect_perf_run.sh usage CMD [ARGS...]  exit status 2 and a pointer to --help
set -uo pipefail

mode=$1
shift
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
