#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the main job: an AllReduce sweep over shared
# memory between 2 processes on this host.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh

sweep=build/bin/strata_allreduce_sweep
if [[ ! -x $sweep ]]; then
  echo "run.sh: $sweep was not built" >&2
  exit 1
fi
echo
echo "== AllReduce sweep: 2 processes, shared memory"
build/bin/strata-run -np 2 "$sweep"

# == Simulated HCCS mesh ==
# TODO: add the AllReduce run on the simulated HCCS mesh here once the sim transport exists.
