#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer) into
# build-asan and runs each from its seed corpus in tests/fuzz/corpus/ for FUZZ_SECONDS (default
# 60) or FUZZ_RUNS executions. New inputs go to build-asan/corpus/, never into the repository.
#   ./scripts/fuzz.sh                      # every target, 60 s each
#   FUZZ_RUNS=10000000 ./scripts/fuzz.sh fuzz_tune
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(fuzz_bootstrap_wire fuzz_topology_json fuzz_tune fuzz_moe_layout)
fi
CC=clang CXX=clang++ cmake -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTRATA_SANITIZE=address,undefined -DSTRATA_BUILD_FUZZERS=ON >/dev/null
cmake --build build-asan -j"$(nproc)" --target "${targets[@]}"

limit=(-max_total_time="${FUZZ_SECONDS:-60}")
if [[ -n ${FUZZ_RUNS:-} ]]; then
  limit=(-runs="$FUZZ_RUNS")
fi
for t in "${targets[@]}"; do
  work=build-asan/corpus/$t
  mkdir -p "$work"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  echo "== $t"
  # -rss_limit_mb bounds what one input may make Strata allocate; a breach is a finding.
  rc=0
  build-asan/bin/"$t" "${limit[@]}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix=build-asan/ "$work" >build-asan/"$t".log 2>&1 || rc=$?
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|ERROR|SUMMARY' build-asan/"$t".log || true
  if [[ $rc -ne 0 ]]; then
    tail -40 build-asan/"$t".log >&2
    echo "$t: the fuzzer found a failing input (build-asan/crash-*, log build-asan/$t.log)" >&2
    exit 1
  fi
done
