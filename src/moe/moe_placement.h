// Expert placement (EPLB, OmniPlacement): logical experts on physical slots, hot experts with
// redundant replicas. computeEplb balances a load vector greedily; routeForRank picks, for the
// tokens of one source rank, the replica each expert goes to.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "topology/topology.h"

namespace strata {

struct EplbResult {
  std::vector<int32_t> slotExpert;  // nranks x slotsPerRank
  double maxMeanBefore = 0;         // expert e on rank e x nranks / numExperts, no replicas
  double maxMeanAfter = 0;          // the placement, a replica carrying load / replicas
};

// Spare slots go one at a time to the expert with the largest load per replica; replicas,
// heaviest first, go to the lightest rank with a free slot. InvalidArgument names a bad value.
Result<EplbResult> computeEplb(const double* load, int numExperts, int nranks, int slotsPerRank);

// Checks a placement of numExperts experts on numSlots slots (values in range, every expert
// present); InvalidArgument names the first bad slot or the missing expert.
Status checkPlacement(const char* op, const int32_t* slotExpert, int numSlots, int numExperts);

// For tokens from `rank`: the slot each logical expert goes to. Preference: a replica on `rank`;
// else the replicas on its host (topology level 0), else all replicas; among several,
// candidates[rank % n].
std::vector<int32_t> routeForRank(const int32_t* slotExpert, int numSlots, int numExperts,
                                  int nranks, int rank, const Topology& topo);

}  // namespace strata
