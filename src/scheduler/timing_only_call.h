// Timing-only evaluation of one collective call: every rank's plan built as a communicator on
// the sim transport builds it, then walked through the sim link model (evaluatePlans).
#pragma once

#include <vector>

#include "plan/coll_args.h"
#include "scheduler/tune_file.h"
#include "scheduler/tune_string.h"
#include "topology/topology.h"
#include "plan/timing_only.h"

namespace strata {

// Builds every rank's plan for `args` as a communicator on the sim transport would (Planner with
// the sim's chunk size and `tune`) and evaluates them. perRank[r] are rank r's arguments (they
// differ for AllGatherv/AllToAllv); the single-argument form gives every rank the same.
// tuneFile: a tune file's entries and fitted levels for `topo` (tuneFileFor), if any.
Result<SimResult> evaluateTimingOnly(const Topology& topo, const std::vector<CollArgs>& perRank,
                                     const TuneTable& tune, const TuneFileUse& tuneFile = {});
Result<SimResult> evaluateTimingOnly(const Topology& topo, const CollArgs& args,
                                     const TuneTable& tune, const TuneFileUse& tuneFile = {});

}  // namespace strata
