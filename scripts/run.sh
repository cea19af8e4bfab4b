#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the main job: the all_reduce_perf sweep over shared
# memory between 2 processes on this host, then the all_gather_perf sweep on the simulated HCCS
# mesh (hccs-8).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh

echo
echo "== all_reduce_perf: 2 processes, shared memory"
build/bin/strata-run -np 2 build/bin/all_reduce_perf -b 8 -e 64M -f 2 -n 20 -w 5 -c 1

echo
echo "== all_gather_perf: simulated HCCS mesh (hccs-8, 8 ranks as threads; simulated times)"
build/bin/all_gather_perf --sim hccs-8 -b 1M -e 64M -f 4 -n 5 -w 1 -c 1
