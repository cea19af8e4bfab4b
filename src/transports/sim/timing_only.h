// Timing-only evaluation: every rank's plan walked through the sim link model on one thread,
// with no payload, no buffers and no threads, so 384+ ranks evaluate in well under a second.
// It announces the same phase events in the same per-rank order as the executor does on the
// sim transport, so the simulated times equal the sim's for the same plans from a cold start.
#pragma once

#include <string>
#include <vector>

#include "core/coll_args.h"
#include "core/executor.h"
#include "core/plan.h"
#include "scheduler/tune_string.h"
#include "topology/topology.h"
#include "transports/sim/link_model.h"

namespace strata {

struct SimResult {
  std::string algo;                // the algorithm of rank 0's plan
  std::vector<SimTime> rankEndPs;  // each rank's clock when its plan completed (all start at 0)
  SimTime maxEndPs = 0;
  SimTime minEndPs = 0;
  std::vector<ExecCounters> rankCounters;  // what each rank's executor would count
  ExecCounters total;                      // summed over ranks
};

// Walks plans[r] as rank r's plan. chunkBytes is the transport chunk the receive handshakes
// (syncs) are counted in. A plan set that cannot complete (a receive no send matches) is an
// InvalidUsage naming the stuck rank and what it waits for.
Result<SimResult> evaluatePlans(const Topology& topo, const std::vector<PlanPtr>& plans,
                                size_t chunkBytes);

// Builds every rank's plan for `args` as a communicator on the sim transport would (Planner with
// the sim's chunk size and `tune`) and evaluates them. perRank[r] are rank r's arguments (they
// differ for AllGatherv/AllToAllv); the single-argument form gives every rank the same.
Result<SimResult> evaluateTimingOnly(const Topology& topo, const std::vector<CollArgs>& perRank,
                                     const TuneTable& tune);
Result<SimResult> evaluateTimingOnly(const Topology& topo, const CollArgs& args,
                                     const TuneTable& tune);

}  // namespace strata
