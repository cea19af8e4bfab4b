#!/usr/bin/env bash
# Installs the build and test dependencies on Debian 12 (bookworm).
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libboost-dev libgtest-dev libgmock-dev googletest
  libhwloc-dev nlohmann-json3-dev libcli11-dev
  libopenmpi-dev openmpi-bin libpmix-dev libucx-dev libfabric-dev
  iproute2 python3 clang libclang-rt-14-dev
  python3-dev python3-pybind11 python3-numpy python3-pytest python3-torch
)

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
