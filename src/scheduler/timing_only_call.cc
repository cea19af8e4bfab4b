#include "scheduler/timing_only_call.h"

#include "scheduler/planner.h"
#include "transports/sim/sim_transport.h"

namespace strata {

Result<SimResult> evaluateTimingOnly(const Topology& topo, const std::vector<CollArgs>& perRank,
                                     const TuneTable& tune, const TuneFileUse& tuneFile) {
  if (perRank.size() != static_cast<size_t>(topo.nranks))
    return makeError(strataInvalidArgument, "timing-only: %zu argument sets for %d ranks",
                     perRank.size(), topo.nranks);
  std::vector<PlanPtr> plans;
  plans.reserve(perRank.size());
  CommShape shape;
  shape.nranks = topo.nranks;
  shape.chunkBytes = kSimChunkBytes;
  shape.forwarding = false;  // the sim models time per phase: no forwarding ops
  shape.put = true;          // the sim models one-sided puts
  SelectionContext ctx =
      makeSelectionContext(shape, std::make_shared<const Topology>(topo), /*modelsTime=*/true);
  applyFittedLevels(ctx, tuneFile.levels);
  for (int r = 0; r < topo.nranks; ++r) {
    const CollArgs& a = perRank[static_cast<size_t>(r)];
    if (a.coll == CollType::kSend || a.coll == CollType::kRecv)
      return makeError(strataInvalidArgument, "timing-only: Send/Recv are not collectives");
    Planner planner(forRank(ctx, r), tune, /*stageFloat32=*/false, tuneFile.table);
    planner.setQuiet(r != 0);
    Result<PlanPtr> plan = planner.planFor(a);
    if (!plan.isOk()) return plan.status().context(format("timing-only: rank %d", r));
    plans.push_back(std::move(plan).value());
  }
  return evaluatePlans(topo, plans, kSimChunkBytes);
}

Result<SimResult> evaluateTimingOnly(const Topology& topo, const CollArgs& args,
                                     const TuneTable& tune, const TuneFileUse& tuneFile) {
  return evaluateTimingOnly(topo, std::vector<CollArgs>(static_cast<size_t>(topo.nranks), args),
                            tune, tuneFile);
}

}  // namespace strata
