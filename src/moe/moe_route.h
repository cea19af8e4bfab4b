// Which route a MoE buffer's dispatch and combine take on a topology with level-0 groups: the
// flat route (every rank to every rank) or the two-level route (moe_hier.cc), chosen once per
// topology and shape, identically on every rank.
#pragma once

#include <optional>

#include "algorithms/hierarchical.h"
#include "moe/moe_shape.h"
#include "topology/topology.h"

namespace strata {

// The level-0 groups of `topo` as seen from `rank`, when the two-level route can run on them
// (equal groups, at least 2 of at least 2 ranks); nullopt otherwise.
std::optional<TwoLevels> moeTopologyLevels(const Topology& topo, int rank);

// Whether a buffer of `shape` takes the two-level route on `topo`. STRATA_MOE_ROUTE=flat: no;
// hier: yes where the topology has two levels; auto (or unset): where it has two levels and the
// two-level route is the cheaper one, both priced by the timing-only evaluation (moe_timing.h)
// for the expected counts of a uniform routing of maxTokens tokens per rank (each token's k
// distinct slots drawn uniformly). Every rank computes the same answer. InvalidArgument names a
// bad STRATA_MOE_ROUTE.
Result<bool> moeTakesTwoLevels(const Topology& topo, const MoeShape& shape);

// The two-level view a buffer of `shape` routes through from `rank`, or nullopt for the flat
// route (moeTakesTwoLevels).
Result<std::optional<TwoLevels>> moeRouteLevels(const Topology& topo, const MoeShape& shape,
                                                int rank);

}  // namespace strata
