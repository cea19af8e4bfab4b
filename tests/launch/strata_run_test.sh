#!/usr/bin/env bash
# strata-run as mpirun and torchrun users drive it: a rank that dies before init, -x, --bind-to,
# the output prefix, and a STRATA_COMM_ID / STRATA_COMM_SECRET the user set.
# Usage: strata_run_test.sh CASE STRATA_RUN WORKER
# Bounds on how long strata-run may take are generous ceilings (timeout(1)) that catch the old
# behaviour (a 30 s grace, a 300 s bootstrap deadline); the assertions are on exit codes, messages
# and processes.
set -uo pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: $0 CASE STRATA_RUN WORKER" >&2
  exit 2
fi
case_name=$1 strata_run=$2 worker=$3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-run-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out err=$tmp/err
# Nothing left over from the caller changes what strata-run does; the library keeps its default
# deadline (300 s), so only a prompt notice can end the waits below in time.
unset STRATA_COMM_ID STRATA_COMM_SECRET STRATA_TIMEOUT_MS STRATA_RANK STRATA_NRANKS

fail() {
  echo "FAIL: $*"
  echo "--- stdout"; cat "$out"
  echo "--- stderr"; cat "$err"
  exit 1
}
expect_code() {  # expect_code WANT GOT WHAT
  [[ $2 -eq $1 ]] || fail "$3: exit code $2, expected $1"
}
expect_in() {  # expect_in FILE TEXT
  grep -qF -- "$2" "$1" || fail "missing '$2' in $(basename "$1")"
}
expect_line() {  # expect_line FILE LINE: a whole line
  grep -qxF -- "$2" "$1" || fail "no line '$2' in $(basename "$1")"
}
# Every PID the ranks printed ("PID n") belongs to a process that is gone.
expect_pids_gone() {
  local pid
  for pid in $(sed -n 's/.*PID \([0-9][0-9]*\)$/\1/p' "$out"); do
    [[ -e /proc/$pid ]] && fail "rank process $pid still runs after strata-run returned"
  done
  grep -q "PID [0-9]" "$out" || fail "no rank printed its PID"
}
run() {  # run SECONDS strata-run args...: at most SECONDS, then killed (exit 124 or 137)
  local limit=$1
  shift
  timeout -k 5 "$limit" "$strata_run" "$@" >"$out" 2>"$err"
}

case $case_name in
  early_exit_rank1)
    # Rank 1 exits with 3 before init: rank 0, waiting in the bootstrap, fails at once naming it.
    run 20 -np 2 "$worker" exit-before-init 1 3
    expect_code 3 $? "strata-run -np 2, rank 1 exits 3 before init"
    expect_in "$out" "[0] INIT FAILED: strataRemoteError"
    expect_in "$out" "strata-run reports that rank 1 exited with code 3 before joining"
    expect_in "$err" "strata-run: rank 1 exited with code 3"
    expect_pids_gone
    ;;
  early_exit_rank0)
    # Rank 0, which would host the root, exits before init: the others stop retrying at once.
    run 20 -np 3 "$worker" exit-before-init 0 4
    expect_code 4 $? "strata-run -np 3, rank 0 exits 4 before init"
    for r in 1 2; do
      expect_in "$out" "[$r] INIT FAILED: strataRemoteError"
    done
    expect_in "$out" "rank 0, which hosts the root at 127.0.0.1:"
    expect_in "$out" "exited with code 4 (reported by strata-run"
    expect_pids_gone
    ;;
  early_exit_stops_the_job)
    # A rank that is not in Strata at all is stopped after the (short, default) grace period.
    run 20 -np 2 sh -c 'if [ "$STRATA_RANK" = 1 ]; then exit 3; fi; echo "PID $$"; exec sleep 300'
    expect_code 3 $? "strata-run -np 2, rank 1 exits 3, rank 0 sleeps"
    expect_in "$err" "strata-run: rank 1 exited with code 3; stopping the other ranks in 3000 ms"
    expect_in "$err" "strata-run: rank 0 was killed by signal 15"
    expect_in "$err" "(stopped by strata-run)"
    expect_pids_gone
    ;;
  export)
    export STRATA_TEST_INHERITED=from-parent
    run 60 -np 2 -x STRATA_TEST_SET=a=b -x STRATA_TEST_INHERITED -x STRATA_TEST_TWICE=1 \
      -x STRATA_TEST_TWICE=2 -x STRATA_TEST_NOT_SET_ANYWHERE --no-prefix \
      sh -c 'echo "$STRATA_RANK set=$STRATA_TEST_SET inherited=$STRATA_TEST_INHERITED twice=$STRATA_TEST_TWICE missing=${STRATA_TEST_NOT_SET_ANYWHERE-unset}"'
    expect_code 0 $? "strata-run -x"
    for r in 0 1; do
      expect_in "$out" "$r set=a=b inherited=from-parent twice=2 missing=unset"
    done
    expect_in "$err" "-x STRATA_TEST_NOT_SET_ANYWHERE: STRATA_TEST_NOT_SET_ANYWHERE is not set here"
    # The variables strata-run sets per rank cannot be overridden, and names are checked.
    run 60 -np 2 -x STRATA_RANK=7 true
    expect_code 2 $? "strata-run -x STRATA_RANK=7"
    expect_in "$err" "-x STRATA_RANK: strata-run sets STRATA_RANK for each rank itself"
    run 60 -np 1 -x 1BAD=x true
    expect_code 2 $? "strata-run -x 1BAD=x"
    expect_in "$err" "'1BAD' is not a variable name"
    ;;
  bind_to)
    allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
    show='echo "$STRATA_RANK $(sed -n "s/^Cpus_allowed_list:[[:space:]]*//p" /proc/self/status)"'
    run 60 -np 2 --no-prefix --bind-to none sh -c "$show"
    expect_code 0 $? "strata-run --bind-to none"
    for r in 0 1; do expect_in "$out" "$r $allowed"; done
    run 60 -np 2 --no-prefix --bind-to core sh -c "$show"
    expect_code 0 $? "strata-run --bind-to core"
    # Rank r sits on the hardware threads of the r-th usable core (modulo the cores).
    cores=()
    for cpu in $(/usr/bin/python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))'); do
      core=$(cat "/sys/devices/system/cpu/cpu$cpu/topology/core_cpus_list" 2>/dev/null || echo "$cpu")
      [[ " ${cores[*]-} " == *" $core "* ]] || cores+=("$core")
    done
    for r in 0 1; do
      expect_in "$out" "$r ${cores[$((r % ${#cores[@]}))]}"
    done
    # The default (auto) pins a job that fits the cores, one rank per core, and leaves a larger
    # one, or one spread over namespace hosts, to the OS.
    fit=${#cores[@]}
    run 60 -np "$fit" --no-prefix sh -c "$show"
    expect_code 0 $? "strata-run -np $fit (default binding)"
    for ((r = 0; r < fit; r++)); do expect_line "$out" "$r ${cores[$r]}"; done
    run 60 -np $((fit + 1)) --no-prefix sh -c "$show"
    expect_code 0 $? "strata-run -np $((fit + 1)) (default binding)"
    for ((r = 0; r <= fit; r++)); do expect_line "$out" "$r $allowed"; done
    run 60 -np 2 --ranks-per-host 1 --no-prefix sh -c "$show"
    expect_code 0 $? "strata-run --ranks-per-host 1 (default binding)"
    for r in 0 1; do expect_line "$out" "$r $allowed"; done
    run 60 -np 1 --bind-to socket true
    expect_code 2 $? "strata-run --bind-to socket"
    expect_in "$err" "invalid --bind-to 'socket' (expected core, none or auto)"
    ;;
  output_prefix)
    run 60 -np 2 sh -c 'echo "line of $STRATA_RANK"'
    expect_code 0 $? "strata-run (default prefix)"
    expect_in "$out" "[1] line of 1"
    run 60 -np 2 --tag-output sh -c 'echo "line of $STRATA_RANK"'
    expect_code 0 $? "strata-run --tag-output"
    expect_in "$out" "[0] line of 0"
    run 60 -np 2 --no-prefix sh -c 'echo "line of $STRATA_RANK"'
    expect_code 0 $? "strata-run --no-prefix"
    grep -qx "line of 0" "$out" && grep -qx "line of 1" "$out" || fail "--no-prefix changed the lines"
    ;;
  user_comm_id)
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    secret=00112233445566778899aabbccddeeff
    # From the environment: passed on unchanged, and the ranks really meet there.
    STRATA_COMM_ID=127.0.0.1:$port STRATA_COMM_SECRET=$secret run 60 -np 2 --no-prefix \
      sh -c 'echo "$STRATA_RANK $STRATA_COMM_ID $STRATA_COMM_SECRET"'
    expect_code 0 $? "strata-run with STRATA_COMM_ID and STRATA_COMM_SECRET set"
    for r in 0 1; do expect_in "$out" "$r 127.0.0.1:$port $secret"; done
    STRATA_COMM_ID=127.0.0.1:$port STRATA_DEBUG=INFO STRATA_DEBUG_SUBSYS=BOOTSTRAP \
      run 60 -np 2 "$worker" all
    expect_code 0 $? "strata-run with STRATA_COMM_ID, every collective"
    expect_in "$err" "bootstrap root: listening on 127.0.0.1:$port"
    # With -x, the same.
    run 60 -np 2 --no-prefix -x STRATA_COMM_ID=127.0.0.1:$port -x STRATA_COMM_SECRET=$secret \
      sh -c 'echo "$STRATA_RANK $STRATA_COMM_ID $STRATA_COMM_SECRET"'
    expect_code 0 $? "strata-run -x STRATA_COMM_ID -x STRATA_COMM_SECRET"
    for r in 0 1; do expect_in "$out" "$r 127.0.0.1:$port $secret"; done
    # What cannot be honoured is refused, saying why.
    STRATA_COMM_SECRET=abc run 60 -np 1 true
    expect_code 2 $? "strata-run with a bad STRATA_COMM_SECRET"
    expect_in "$err" "STRATA_COMM_SECRET must be 32 hex digits"
    STRATA_COMM_ID=nowhere run 60 -np 1 true
    expect_code 2 $? "strata-run with a bad STRATA_COMM_ID"
    expect_in "$err" "STRATA_COMM_ID=nowhere is not host:port"
    STRATA_COMM_ID=127.0.0.1:$port run 60 -np 1 --host 127.0.0.1 true
    expect_code 2 $? "strata-run --host with STRATA_COMM_ID"
    expect_in "$err" "both name rank 0's address"
    ;;
  *)
    echo "unknown case '$case_name'" >&2
    exit 2
    ;;
esac
echo "PASS: $case_name"
