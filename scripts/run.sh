#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the main job: the all_reduce_perf sweep over shared
# memory between 2 processes on this host.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh

echo
echo "== all_reduce_perf: 2 processes, shared memory"
build/bin/strata-run -np 2 build/bin/all_reduce_perf -b 8 -e 64M -f 2 -n 20 -w 5 -c 1

# == Simulated HCCS mesh ==
# TODO: add the run on the simulated HCCS mesh here once the sim transport exists.
