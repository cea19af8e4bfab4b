#!/usr/bin/env bash
# The README's "Multiple hosts" recipes, run as written on two network-namespace hosts of two
# ranks each: strata-run with a rank prefix, and mpirun started inside host 0 with netns-hosts as
# its rsh agent. Exits 77 (skip) only when network namespaces cannot be created here.
# Usage: netns_recipes.sh STRATA_RUN PROGRAM NETNS_HOSTS
set -uo pipefail
strata_run=$1 program=$2 netns_hosts=$3
export STRATA_NETNS_PREFIX=stn-recipes STRATA_NETNS_SUBNET=10.213.0
export STRATA_DEBUG=INFO STRATA_DEBUG_SUBSYS=INIT

out=$("$netns_hosts" up 2 2>&1)
code=$?
if [[ $code -eq 77 ]]; then
  echo "SKIP: network namespaces cannot be created here: $out"
  exit 77
fi
if [[ $code -ne 0 ]]; then
  echo "FAIL: netns-hosts up 2: $out"
  exit 1
fi
trap '"$netns_hosts" down' EXIT

networks=()
[[ ${STRATA_HAVE_UCX:-1} == 1 ]] && networks+=(ucx)
[[ ${STRATA_HAVE_OFI:-1} == 1 ]] && networks+=(ofi)
if [[ ${#networks[@]} -eq 0 ]]; then
  echo "SKIP: no network transport is built"
  exit 77
fi
failed=0

# Every rank succeeded, using shared memory inside its host and the network between hosts, and
# rank 0 said so once for every pair of ranks.
check() {
  local what=$1 network=$2 log=$3 rc=$4
  if [[ $rc -ne 0 ]] || [[ $(grep -c "transport shm+$network" "$log") -ne 4 ]] ||
      [[ $(grep -c "transport: shm between ranks on one host, $network between hosts (2 hosts" "$log") -ne 1 ]]; then
    echo "FAIL: $what over $network (exit $rc):"
    cat "$log"
    failed=1
  else
    echo "PASS: $what over $network"
  fi
}

log=$(mktemp)
for net in "${networks[@]}"; do
  STRATA_TRANSPORT=$net UCX_TLS=tcp FI_PROVIDER=tcp \
    "$strata_run" -np 4 --ranks-per-host 2 --rank-prefix "$netns_hosts exec {host}" \
    --host 10.213.0.1 --grace-ms 5000 "$program" >"$log" 2>&1
  check "strata-run" "$net" "$log" $?
done

if command -v mpirun >/dev/null; then
  # As the README has it, rank 0's id through PMIx; then once with STRATA_COMM_ID naming the root.
  for net in "${networks[@]}" "${networks[0]}:STRATA_COMM_ID"; do
    comm_id=()
    what="mpirun (id through PMIx)"
    if [[ $net == *:STRATA_COMM_ID ]]; then
      net=${net%%:*}
      comm_id=(-x STRATA_COMM_ID=10.213.0.1:29500)
      what="mpirun with STRATA_COMM_ID"
    fi
    "$netns_hosts" exec 0 mpirun --allow-run-as-root --bind-to none -np 4 \
      --host 10.213.0.1:2,10.213.0.2:2 \
      --mca plm_rsh_agent "$netns_hosts rsh" --mca oob_tcp_if_include eth0 \
      "${comm_id[@]}" -x STRATA_TRANSPORT=$net -x UCX_TLS=tcp \
      -x FI_PROVIDER=tcp -x STRATA_DEBUG -x STRATA_DEBUG_SUBSYS -x STRATA_TIMEOUT_MS \
      "$program" >"$log" 2>&1
    check "$what" "$net" "$log" $?
  done
else
  echo "mpirun not found: the mpirun recipe was not run"
fi
rm -f "$log"
exit $failed
