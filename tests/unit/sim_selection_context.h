// The selection context a rank of a sim preset's communicator has (the sim transport's chunk, no
// forwarding, one-sided puts), for tests of the selector without a communicator.
#pragma once

#include <memory>
#include <string>

#include "scheduler/selection_context.h"
#include "topology/presets/presets.h"
#include "transports/sim/sim_transport.h"

namespace strata::test {

inline SelectionContext simContext(const std::string& preset) {
  auto topo = std::make_shared<const Topology>(topologyPreset(preset).value());
  CommShape s;
  s.nranks = topo->nranks;
  s.chunkBytes = kSimChunkBytes;
  s.forwarding = false;
  s.put = true;
  return makeSelectionContext(s, topo, /*modelsTime=*/true);
}

}  // namespace strata::test
