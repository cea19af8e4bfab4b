#include "moe/moe_route.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "moe/moe_timing.h"

namespace strata {
namespace {

// The chance that a token's k distinct slots, drawn uniformly from `slots`, include one of
// `held` given slots.
double hitChance(int slots, int held, int k) {
  double miss = 1.0;
  for (int j = 0; j < k; ++j)
    miss *= static_cast<double>(std::max(0, slots - held - j)) / static_cast<double>(slots - j);
  return 1.0 - miss;
}

}  // namespace

std::optional<TwoLevels> moeTopologyLevels(const Topology& topo, int rank) {
  if (topo.levels.size() < 2) return std::nullopt;
  CommShape s;
  s.rank = rank;
  s.nranks = topo.nranks;
  s.level0Groups = topo.levels[0].groupOf;
  return twoLevels(s);
}

Result<bool> moeTakesTwoLevels(const Topology& topo, const MoeShape& shape) {
  const char* env = std::getenv("STRATA_MOE_ROUTE");
  const std::string route = env ? env : "";
  if (!route.empty() && route != "auto" && route != "flat" && route != "hier")
    return makeError(strataInvalidArgument,
                     "STRATA_MOE_ROUTE = '%s': expected auto, flat or hier", route.c_str());
  if (route == "flat") return false;
  const std::optional<TwoLevels> levels = moeTopologyLevels(topo, 0);
  if (!levels) return false;
  if (route == "hier") return true;
  // Expected counts: every rank sends each rank (E/n slots) and each group (E L / n slots) the
  // tokens with a slot there.
  const auto n = static_cast<size_t>(shape.nranks);
  const auto G = static_cast<size_t>(levels->groups);
  const int k = std::min(shape.topk, shape.numSlots);
  const auto expected = [&](int held) {
    return static_cast<size_t>(std::lround(static_cast<double>(shape.maxTokens) *
                                           hitChance(shape.numSlots, held, k)));
  };
  const std::vector<size_t> sent(n * n, expected(shape.localExperts));
  const std::vector<size_t> toGroup(n * G, expected(shape.localExperts * levels->size));
  STRATA_ASSIGN(MoeSimResult flat, evaluateMoeRoute(topo, shape, sent.data(), nullptr));
  STRATA_ASSIGN(MoeSimResult hier, evaluateMoeRoute(topo, shape, sent.data(), toGroup.data()));
  return hier.dispatch.maxEndPs + hier.combine.maxEndPs <
         flat.dispatch.maxEndPs + flat.combine.maxEndPs;
}

Result<std::optional<TwoLevels>> moeRouteLevels(const Topology& topo, const MoeShape& shape,
                                                int rank) {
  STRATA_ASSIGN(bool two, moeTakesTwoLevels(topo, shape));
  if (!two) return std::optional<TwoLevels>();
  return moeTopologyLevels(topo, rank);
}

}  // namespace strata
