// The algorithm registry: every built-in algorithm, one line each.
#include "algorithms/algorithm.h"

namespace strata {

const Algorithm& ringAllReduce();
const Algorithm& pipelinedRingAllReduce();
const Algorithm& pipelinedRingAllGather();
const Algorithm& oneShotAllReduce();
const Algorithm& ringReduceScatter();
const Algorithm& ringAllGather();
const Algorithm& ringAllGatherv();
const Algorithm& meshAllGather();
const Algorithm& chainBroadcast();
const Algorithm& chainReduce();
const Algorithm& pairwiseAllToAll();
const Algorithm& pairwiseAllToAllv();
const Algorithm& disseminationBarrier();
const Algorithm& meshQuantizedAllGather();
const Algorithm& ringQuantizedAllGather();
const Algorithm& directOneShotAllReduce();
const Algorithm& directTwoShotAllReduce();
const Algorithm& directPullAllGather();
const Algorithm& directPushAllGather();
const Algorithm& directReduceScatter();
const Algorithm& directBroadcast();
const Algorithm& directAllToAll();
const Algorithm& directPushAllToAll();
const Algorithm& directAllToAllv();
const Algorithm& flagAllReduce();
const Algorithm& flagAllGather();
const Algorithm& flagReduceScatter();
const Algorithm& flagBroadcast();
const Algorithm& ringFusedAllReduce();
const Algorithm& pipelinedRingFusedAllReduce();
const Algorithm& twoShotFusedAllReduce();
const Algorithm& hierAllReduce();
const Algorithm& hierAllGather();
const Algorithm& hierReduceScatter();
const Algorithm& hierAllToAll();
const Algorithm& hierAllToAllv();
const Algorithm& twoShotAllReduce();
const Algorithm& meshReduceScatter();
const Algorithm& binomialBroadcast();
const Algorithm& binomialReduce();
const Algorithm& bruckAllGather();
const Algorithm& rhdAllReduce();
const Algorithm& rhdReduceScatter();
const Algorithm& bruckAllToAll();
const Algorithm& recDblAllGather();
const Algorithm& doubleTreeBroadcast();
const Algorithm& doubleTreeReduce();
const Algorithm& directGather();
const Algorithm& binomialGather();
const Algorithm& directScatter();
const Algorithm& binomialScatter();

const std::vector<const Algorithm*>& algorithmRegistry() {
  // One line per algorithm, so concurrent additions merge cleanly.
  // clang-format off
  static const std::vector<const Algorithm*> all = {
      &ringAllReduce(),
      &pipelinedRingAllReduce(),
      &oneShotAllReduce(),
      &twoShotAllReduce(),
      &rhdAllReduce(),
      &ringReduceScatter(),
      &meshReduceScatter(),
      &rhdReduceScatter(),
      &ringAllGather(),
      &pipelinedRingAllGather(),
      &meshAllGather(),
      &recDblAllGather(),
      &bruckAllGather(),
      &ringAllGatherv(),
      &chainBroadcast(),
      &binomialBroadcast(),
      &doubleTreeBroadcast(),
      &chainReduce(),
      &binomialReduce(),
      &doubleTreeReduce(),
      &directGather(),
      &binomialGather(),
      &directScatter(),
      &binomialScatter(),
      &pairwiseAllToAll(),
      &bruckAllToAll(),
      &pairwiseAllToAllv(),
      &disseminationBarrier(),
      &meshQuantizedAllGather(),
      &ringQuantizedAllGather(),
      &directOneShotAllReduce(),
      &directTwoShotAllReduce(),
      &directPullAllGather(),
      &directPushAllGather(),
      &directReduceScatter(),
      &directBroadcast(),
      &directAllToAll(),
      &directPushAllToAll(),
      &directAllToAllv(),
      &flagAllReduce(),
      &flagAllGather(),
      &flagReduceScatter(),
      &flagBroadcast(),
      &ringFusedAllReduce(),
      &pipelinedRingFusedAllReduce(),
      &twoShotFusedAllReduce(),
      &hierAllReduce(),
      &hierAllGather(),
      &hierReduceScatter(),
      &hierAllToAll(),
      &hierAllToAllv(),
  };
  // clang-format on
  return all;
}

const Algorithm* findAlgorithm(CollType coll, const std::string& name) {
  for (const Algorithm* a : algorithmRegistry())
    if (a->coll() == coll && name == a->name()) return a;
  return nullptr;
}

std::string algorithmNames(CollType coll) {
  std::string out;
  for (const Algorithm* a : algorithmRegistry()) {
    if (a->coll() != coll) continue;
    if (!out.empty()) out += ", ";
    out += a->name();
  }
  return out;
}

}  // namespace strata
