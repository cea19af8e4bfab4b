// Built-in topologies of Ascend shapes. docs/topology.md lists every parameter with its source
// and how far to trust it.
//   hccs-8      one 8-NPU server, HCCS full mesh (Atlas 800I A2 / 910B-like)
//   hccs-Mx8    M such servers (hccs-2x8, hccs-4x8, ...) with 200 Gb/s RoCE per NPU between them
//   cm384       a 384-NPU supernode of 48 nodes of 8 on one Unified Bus (CloudMatrix384-like)
//   cm384:N     its first N NPUs
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "topology/topology.h"

namespace strata {

// True for names of a preset's form ("hccs-...", "cm384..."), whether or not the numbers in
// them are in range; such names never refer to files.
bool isPresetName(const std::string& name);

// The preset called `name`; InvalidArgument naming the accepted forms otherwise.
Result<Topology> topologyPreset(const std::string& name);

// The documented preset names.
std::vector<std::string> presetNames();

// `servers` 8-NPU HCCS meshes; with more than one, a RoCE level between them.
Topology hccsMeshPreset(int servers);

// The first `nranks` NPUs (1..384) of a CloudMatrix384-like supernode.
Topology cloudMatrixPreset(int nranks);

}  // namespace strata
