#!/usr/bin/env bash
# strataCommInitFromEnv under a bare mpirun: rank 0's id travels through Open MPI's PMIx server,
# with no MPI_Init and no STRATA_COMM_ID. Runs the multi-process worker on 2 and 4 ranks, two
# communicators in a row, STRATA_COMM_ID as an override, an application that calls MPI_Init
# itself (before or after), and the README's C example exactly as the README runs it.
# Usage: mpirun_pmix.sh MPIRUN WORKER README CC INCLUDE_DIR LIB_DIR WITH_MPI
set -uo pipefail
if [[ $# -ne 7 ]]; then
  echo "usage: $0 MPIRUN WORKER README CC INCLUDE_DIR LIB_DIR WITH_MPI" >&2
  exit 2
fi
mpirun=$1 worker=$2 readme=$3 cc=$4 include_dir=$5 lib_dir=$6 with_mpi=$7

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-pmix.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() {
  echo "FAIL: $1"
  [[ -f $2 ]] && sed 's/^/    /' "$2"
  failed=1
}

# The id must come through PMIx, not from a variable left over in the caller's environment; the
# root listens on loopback.
unset STRATA_COMM_ID STRATA_COMM_SECRET STRATA_RANK STRATA_NRANKS
export STRATA_SOCKET_IFNAME=lo STRATA_DEBUG=INFO STRATA_DEBUG_SUBSYS=BOOTSTRAP
export STRATA_TIMEOUT_MS=${STRATA_TIMEOUT_MS:-60000}
run=("$mpirun" --allow-run-as-root --oversubscribe)

# Every rank printed "OK rank R", and every rank but 0 read the id through PMIx.
expect_ok() {
  local what=$1 np=$2 log=$3 rc=$4 reads=$5
  local r
  if [[ $rc -ne 0 ]]; then
    fail "$what: mpirun exited $rc" "$log"
    return
  fi
  for ((r = 0; r < np; r++)); do
    if ! grep -q "^OK rank $r\$" "$log"; then
      fail "$what: rank $r did not print OK" "$log"
      return
    fi
  done
  local got
  got=$(grep -c "unique id of rank 0 read through PMIx" "$log")
  if [[ $got -ne $reads ]]; then
    fail "$what: $got ranks read the id through PMIx, expected $reads" "$log"
    return
  fi
  echo "PASS: $what"
}

for np in 2 4; do
  log=$tmp/all-$np.log
  "${run[@]}" -np "$np" "$worker" all >"$log" 2>&1
  expect_ok "every collective on $np ranks, id through PMIx" "$np" "$log" $? $((np - 1))
done

log=$tmp/two-comms.log
"${run[@]}" -np 2 "$worker" two-comms >"$log" 2>&1
expect_ok "two communicators from the environment, alive together" 2 "$log" $? 2

# MPI and PMIx share the process: PMIx stays initialised until exit, so MPI_Init works after
# strataCommInitFromEnv as well as before it.
for order in mpi-first strata-first; do
  log=$tmp/with-mpi-$order.log
  "${run[@]}" -np 2 "$with_mpi" "$order" >"$log" 2>&1
  expect_ok "MPI_Init and strataCommInitFromEnv in one program ($order)" 2 "$log" $? 1
done

# STRATA_COMM_ID still names the root, and PMIx is left alone.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$tmp/override.log
"${run[@]}" -np 2 -x STRATA_COMM_ID=127.0.0.1:$port "$worker" all >"$log" 2>&1
rc=$?
expect_ok "STRATA_COMM_ID=127.0.0.1:$port overrides PMIx" 2 "$log" $rc 0
if [[ $rc -eq 0 ]] && ! grep -q "root at 127.0.0.1:$port" "$log"; then
  fail "STRATA_COMM_ID=127.0.0.1:$port: the root was not there" "$log"
fi

# The README's C example, built from the README and run as the README says.
awk '/^```c$/ {inside = 1; next} /^```$/ {inside = 0} inside' "$readme" >"$tmp/app.c"
if ! "$cc" -std=c99 -Wall -Wextra -o "$tmp/app" "$tmp/app.c" -I"$include_dir" -L"$lib_dir" \
    -lstrata -Wl,-rpath,"$lib_dir" >"$tmp/cc.log" 2>&1; then
  fail "the README's C example does not compile" "$tmp/cc.log"
else
  log=$tmp/readme.log
  # As written: -np 2 and no launch variable (the root still listens on loopback, as in every
  # test here; 2 ranks need 2 slots: --oversubscribe only on a machine with fewer cores).
  extra=()
  [[ $(nproc) -lt 2 ]] && extra=(--oversubscribe)
  (cd "$tmp" && env -u STRATA_DEBUG -u STRATA_DEBUG_SUBSYS \
    "$mpirun" --allow-run-as-root "${extra[@]}" -np 2 ./app) >"$log" 2>&1
  rc=$?
  if [[ $rc -ne 0 ]] || ! grep -q "^rank 0 of 2: x\[0\] = 2$" "$log" ||
      ! grep -q "^rank 1 of 2: x\[0\] = 2$" "$log"; then
    fail "the README's C example under 'mpirun --allow-run-as-root -np 2 ./app' (exit $rc)" "$log"
  else
    echo "PASS: the README's C example under mpirun -np 2"
  fi
fi
exit $failed
