// Turns a call into the plan this rank runs: picks the algorithm, stages low-precision
// reductions through float32 (so they round once), appends the division of Avg, and caches the
// result per call shape.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "algorithms/algorithm.h"
#include "plan/coll_args.h"
#include "plan/plan.h"
#include "scheduler/tune_string.h"

namespace strata {

class Planner {
 public:
  Planner(CommShape shape, TuneTable tune) : shape_(shape), tune_(std::move(tune)) {}

  // The plan for one collective (not Send/Recv). Not thread-safe: a communicator's calls are
  // serialised by its exec mutex, which every caller holds.
  Result<PlanPtr> planFor(const CollArgs& args);

  // One plan running every Send and Recv of a group together in a single phase. Op i addresses
  // its buffer as slot kFirstExtraBuf + i.
  PlanPtr planPointToPoint(const std::vector<CollArgs>& calls) const;

  const CommShape& shape() const { return shape_; }

 private:
  Result<PlanPtr> build(const CollArgs& args) const;

  CommShape shape_;
  TuneTable tune_;
  std::map<CallKey, PlanPtr> cache_;
  std::optional<CallKey> lastKey_;
  PlanPtr last_;
};

}  // namespace strata
