#!/usr/bin/env bash
# AllReduce (float32 sum) between two network-namespace hosts, one rank on each: Open MPI's
# MPI_Allreduce (pml ob1, btl tcp,self) against Strata over UCX (UCX_TLS=tcp) and over libfabric
# (FI_PROVIDER=tcp, i.e. tcp;ofi_rxm), all in the same two namespaces. The three run interleaved,
# round after round, and the table gives the median of each over the rounds: time per call,
# busbw, and Strata's speed as a multiple of Open MPI's. Needs root (network namespaces).
#
# Usage: scripts/bench-netns.sh [BUILD_DIR [ROUNDS]]     (default: build, 7 rounds)
# Environment: SIZES="8 1048576 ..." (bytes) overrides the sizes; STRATA_NETNS_PREFIX as for
# scripts/netns-hosts (default here: strata-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$(cd "${1:-build}" && pwd)
rounds=${2:-7}
sizes=${SIZES:-"8 1024 65536 1048576 4194304 16777216 67108864"}
bench=$build/bin/netns_allreduce_bench
strata_run=$build/bin/strata-run
hosts=$root/scripts/netns-hosts
export STRATA_NETNS_PREFIX=${STRATA_NETNS_PREFIX:-strata-bench}
export STRATA_NETNS_SUBNET=${STRATA_NETNS_SUBNET:-10.213.0}
h0=$STRATA_NETNS_SUBNET.1
h1=$STRATA_NETNS_SUBNET.2

for f in "$bench" "$strata_run"; do
  [[ -x $f ]] || { echo "bench-netns: $f is not built" >&2; exit 1; }
done
command -v mpirun >/dev/null || { echo "bench-netns: mpirun not found" >&2; exit 1; }

"$hosts" up 2
trap '"$hosts" down >/dev/null' EXIT
results=$(mktemp)

# shellcheck disable=SC2086
# --bind-to none: every namespace host sees the same cores, so Open MPI's default binding would
# put both ranks on core 0.
run_mpi() {
  "$hosts" exec 0 mpirun --allow-run-as-root --bind-to none -np 2 --host "$h0:1,$h1:1" \
    --mca plm_rsh_agent "$hosts rsh" --mca pml ob1 --mca btl tcp,self \
    --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 \
    "$bench" mpi $sizes
}
# shellcheck disable=SC2086
run_strata() {
  env STRATA_TRANSPORT="$1" UCX_TLS=tcp FI_PROVIDER=tcp \
    "$strata_run" -np 2 --ranks-per-host 1 --rank-prefix "$hosts exec {host}" --host "$h0" \
    "$bench" strata $sizes | sed 's/^\[0\] //'
}

impls=(mpi ucx ofi)
for ((round = 0; round < rounds; round++)); do
  for ((k = 0; k < 3; k++)); do
    impl=${impls[$(((round + k) % 3))]}  # rotate who goes first
    if [[ $impl == mpi ]]; then
      run_mpi | awk -v i=mpi '/^RESULT/ {print i, $3, $4, $6}' >>"$results"
    else
      run_strata "$impl" | awk -v i="$impl" '/^RESULT/ {print i, $3, $4, $6}' >>"$results"
    fi
  done
  echo "bench-netns: round $((round + 1)) of $rounds done" >&2
done

median() {  # median of the numbers on stdin
  sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
stat() {  # stat IMPL BYTES FIELD (3 = us per call, 4 = busbw)
  awk -v i="$1" -v b="$2" -v f="$3" '$1 == i && $2 == b {print $f}' "$results" | median
}

echo
echo "AllReduce float32 sum, 2 namespace hosts x 1 rank, median of $rounds interleaved rounds"
printf '%12s | %12s %10s | %12s %10s %7s | %12s %10s %7s\n' bytes "MPI us" "MPI busbw" \
  "UCX us" "UCX busbw" "x MPI" "OFI us" "OFI busbw" "x MPI"
for b in $sizes; do
  mt=$(stat mpi "$b" 3) mb=$(stat mpi "$b" 4)
  ut=$(stat ucx "$b" 3) ub=$(stat ucx "$b" 4)
  ot=$(stat ofi "$b" 3) ob=$(stat ofi "$b" 4)
  awk -v b="$b" -v mt="$mt" -v mb="$mb" -v ut="$ut" -v ub="$ub" -v ot="$ot" -v ob="$ob" 'BEGIN {
    ru = ut > 0 ? sprintf("%.2f", mt / ut) : "-"; ro = ot > 0 ? sprintf("%.2f", mt / ot) : "-"
    printf "%12d | %12.1f %10.3f | %12.1f %10.3f %7s | %12.1f %10.3f %7s\n", b, mt, mb, ut, ub, ru, ot, ob, ro
  }'
done
echo "(us: microseconds per call, slowest rank; busbw in GB/s; x MPI: Open MPI's time over"
echo " Strata's, which is Strata's busbw relative to Open MPI's; above 1 means Strata is faster)"
rm -f "$results"
