#include "moe/moe_placement.h"

#include <algorithm>
#include <numeric>

namespace strata {
namespace {

double maxOverMean(const std::vector<double>& rankLoad) {
  const double total = std::accumulate(rankLoad.begin(), rankLoad.end(), 0.0);
  if (total <= 0) return 1.0;
  const double mean = total / static_cast<double>(rankLoad.size());
  return *std::max_element(rankLoad.begin(), rankLoad.end()) / mean;
}

}  // namespace

Result<EplbResult> computeEplb(const double* load, int numExperts, int nranks, int slotsPerRank) {
  const char* op = "strataMoePlacementCompute";
  if (numExperts <= 0 || nranks <= 0 || slotsPerRank <= 0)
    return makeError(strataInvalidArgument,
                     "%s: numExperts %d, nranks %d and slotsPerRank %d must be positive", op,
                     numExperts, nranks, slotsPerRank);
  if (load == nullptr) return makeError(strataInvalidArgument, "%s: expertLoad is NULL", op);
  const long slots = static_cast<long>(nranks) * slotsPerRank;
  if (slots < numExperts)
    return makeError(strataInvalidArgument,
                     "%s: nranks %d x slotsPerRank %d = %ld slots cannot hold %d experts", op,
                     nranks, slotsPerRank, slots, numExperts);
  for (int e = 0; e < numExperts; ++e)
    if (!(load[e] >= 0))
      return makeError(strataInvalidArgument, "%s: expertLoad[%d] = %g is not a load >= 0", op, e,
                       load[e]);
  const auto ne = static_cast<size_t>(numExperts);
  std::vector<int> replicas(ne, 1);
  for (long spare = slots - numExperts; spare > 0; --spare) {
    size_t best = 0;
    for (size_t e = 1; e < ne; ++e)
      if (load[e] / replicas[e] > load[best] / replicas[best]) best = e;
    ++replicas[best];
  }
  struct Replica {
    double load;
    int expert;
  };
  std::vector<Replica> items;
  for (size_t e = 0; e < ne; ++e)
    for (int k = 0; k < replicas[e]; ++k)
      items.push_back({load[e] / replicas[e], static_cast<int>(e)});
  std::stable_sort(items.begin(), items.end(),
                   [](const Replica& a, const Replica& b) { return a.load > b.load; });
  const auto nr = static_cast<size_t>(nranks);
  std::vector<double> rankLoad(nr, 0.0);
  std::vector<int> used(nr, 0);
  EplbResult out;
  out.slotExpert.assign(static_cast<size_t>(slots), -1);
  for (const Replica& it : items) {
    size_t best = nr;
    for (size_t r = 0; r < nr; ++r)
      if (used[r] < slotsPerRank && (best == nr || rankLoad[r] < rankLoad[best])) best = r;
    out.slotExpert[best * static_cast<size_t>(slotsPerRank) + static_cast<size_t>(used[best]++)] =
        it.expert;
    rankLoad[best] += it.load;
  }
  out.maxMeanAfter = maxOverMean(rankLoad);
  std::vector<double> before(nr, 0.0);
  for (size_t e = 0; e < ne; ++e) before[e * nr / ne] += load[e];
  out.maxMeanBefore = maxOverMean(before);
  return out;
}

Status checkPlacement(const char* op, const int32_t* slotExpert, int numSlots, int numExperts) {
  if (slotExpert == nullptr) return makeError(strataInvalidArgument, "%s: slotExpert is NULL", op);
  std::vector<char> seen(static_cast<size_t>(numExperts), 0);
  for (int i = 0; i < numSlots; ++i) {
    const int32_t e = slotExpert[i];
    if (e < 0 || e >= numExperts)
      return makeError(strataInvalidArgument, "%s: slotExpert[%d] = %d is not an expert in [0, %d)",
                       op, i, e, numExperts);
    seen[static_cast<size_t>(e)] = 1;
  }
  for (int e = 0; e < numExperts; ++e)
    if (!seen[static_cast<size_t>(e)])
      return makeError(strataInvalidArgument, "%s: expert %d has no slot in slotExpert", op, e);
  return Status::ok();
}

std::vector<int32_t> routeForRank(const int32_t* slotExpert, int numSlots, int numExperts,
                                  int nranks, int rank, const Topology& topo) {
  const int perRank = numSlots / nranks;
  std::vector<std::vector<int32_t>> replicas(static_cast<size_t>(numExperts));
  for (int s = 0; s < numSlots; ++s) replicas[static_cast<size_t>(slotExpert[s])].push_back(s);
  std::vector<int32_t> route(static_cast<size_t>(numExperts), -1);
  std::vector<int32_t> pick;
  for (int e = 0; e < numExperts; ++e) {
    const auto& all = replicas[static_cast<size_t>(e)];
    pick.clear();
    for (int32_t s : all)
      if (s / perRank == rank) pick.push_back(s);
    if (pick.empty())
      for (int32_t s : all)
        if (topo.nranks == nranks && topo.levelOf(rank, s / perRank) == 0) pick.push_back(s);
    const auto& from = pick.empty() ? all : pick;
    route[static_cast<size_t>(e)] = from[static_cast<size_t>(rank) % from.size()];
  }
  return route;
}

}  // namespace strata
