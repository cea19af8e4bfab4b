// What the scheduler sees when it picks an algorithm for a call: the communicator's topology
// (levels, which ranks share each level, per-level α, β and port caps), this rank's place in it,
// the transport's capabilities (chunk, forwarding, one-sided puts, whether it models time) and
// the cost model those give. The call itself (collective, size, dtype) comes with each call.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "scheduler/cost_model.h"
#include "scheduler/tune_file.h"
#include "topology/topology.h"

namespace strata {

struct SelectionContext {
  CommShape shape;                           // this rank, the rank count, transport capabilities
  std::shared_ptr<const Topology> topology;  // never null
  std::vector<uint8_t> peerLevels;           // this rank's place: the level joining it to each peer
  bool modelsTime = false;                   // the transport is the sim (the model is its clock)
  std::string fingerprint;                   // topologyFingerprint(*topology)
  std::shared_ptr<const CostModel> model;
  std::string modelTag;  // set when a tune file's fitted levels replace the topology's figures
};

// The context of rank shape.rank on `topo` (whose rank count must be shape.nranks).
SelectionContext makeSelectionContext(const CommShape& shape, std::shared_ptr<const Topology> topo,
                                      bool modelsTime);

// The model priced with a tune file's fitted α and bandwidth for the levels it gives.
void applyFittedLevels(SelectionContext& ctx, const std::vector<FittedLevel>& levels);

// The same context seen from another rank.
SelectionContext forRank(const SelectionContext& ctx, int rank);

// A context without a known topology: every rank on one host, priced with the built-in
// shared-memory figures (docs/topology.md).
SelectionContext hostSelectionContext(const CommShape& shape);

}  // namespace strata
