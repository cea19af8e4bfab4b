// --timing-only: a perf tool's sweep evaluated by strataSimTimingOnly on the calling thread, with
// no communicators, buffers or payload. The rows are those of the normal sweep; the time is the
// simulated time of one call from a cold start, and #wrong is N/A.
#pragma once

#include "common/collective.h"
#include "common/options.h"
#include "common/report.h"
#include "common/sim_launch.h"

namespace strata::perf {

// Fills report row by row. Throws UsageError when -r is beyond the topology's ranks and
// std::runtime_error when an evaluation fails.
void runTimingOnly(const Collective& coll, const PerfOptions& opts, const SimTopology& topo,
                   Report& report);

}  // namespace strata::perf
