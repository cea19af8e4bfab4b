// Picks the algorithm for a call: a pinned one from the tune table if any, else the supporting
// algorithm with the lowest cost estimate.
#pragma once

#include "algorithms/algorithm.h"
#include "scheduler/tune_string.h"

namespace strata {

Result<const Algorithm*> selectAlgorithm(const CollArgs& args, const CommShape& shape,
                                         const TuneTable& tune);

}  // namespace strata
