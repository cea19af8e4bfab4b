// Timing-only evaluation of MoE dispatch and combine: every rank's plan built as a buffer of
// this shape builds it, for a given routing (tokens each rank sends to each rank), walked
// through the sim link model without payload or threads (plan/timing_only.h).
#pragma once

#include <cstddef>
#include <utility>

#include "moe/moe_shape.h"
#include "plan/timing_only.h"
#include "topology/topology.h"

namespace strata {

struct MoeSimResult {
  SimResult dispatch;
  SimResult combine;
};

// tokensSent[s * nranks + d]: tokens rank s sends to rank d (each once per destination), at most
// shape.maxTokens each. The receives are exact here; on the sim transport they take a message
// of at most a slot, which the sim charges for the bytes that travel, so the times agree.
// tokensToGroup[s * G + h] (G the level-0 groups): tokens rank s sends to group h, each once;
// with it, a topology of two levels is priced on the route a buffer of this shape takes there
// (moe_route.h), the two-level route's two hops per leg as two phases of one plan. Null: the
// flat route. One round: a dispatch whose chunk covers every token.
Result<MoeSimResult> evaluateMoeTimingOnly(const Topology& topo, const MoeShape& shape,
                                           const size_t* tokensSent,
                                           const size_t* tokensToGroup = nullptr);

// The same on a given route: the two-level one when tokensToGroup is set and the topology has
// two levels (moeTopologyLevels), the flat one otherwise.
Result<MoeSimResult> evaluateMoeRoute(const Topology& topo, const MoeShape& shape,
                                      const size_t* tokensSent, const size_t* tokensToGroup);

}  // namespace strata
