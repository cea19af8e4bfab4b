// Runs a MoE plan on a communicator now, the way a collective call runs: under the
// communicator's exec mutex, with its deadline, abort flag and peer checks, counted in its
// statistics. A failure fails the communicator, as any collective's does.
#pragma once

#include <cstddef>

#include "plan/executor.h"
#include "plan/plan.h"
#include "runtime/comm.h"

namespace strata {

// `call`: the packed CallTag of the dispatch or combine the plan is a round of (every round of
// one call carries the same tag).
Status runMoePlan(Comm& comm, PlanRun& run, const PlanPtr& plan, const char* name, uint64_t call,
                  std::byte* sendStage, std::byte* recvSlots, size_t callBytes);

}  // namespace strata
