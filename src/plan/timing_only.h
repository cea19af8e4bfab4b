// Timing-only evaluation: every rank's plan walked through the sim link model on one thread,
// with no payload, no buffers and no threads, so 384+ ranks evaluate in well under a second.
// It announces the same phase events in the same per-rank order as the executor does on the
// sim transport, so the simulated times equal the sim's for the same plans from a cold start.
#pragma once

#include <string>
#include <vector>

#include "plan/executor.h"
#include "plan/plan.h"
#include "topology/topology.h"
#include "transports/sim/link_model.h"

namespace strata {

struct SimResult {
  std::string algo;                // the algorithm of rank 0's plan
  const char* algoSource = "";     // what chose it (Plan::algoSource)
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

}  // namespace strata
