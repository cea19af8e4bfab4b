// Turns a call into the plan this rank runs: picks the algorithm, stages low-precision
// reductions through float32 when asked to, appends the division of Avg, and caches the result
// per call shape.
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
  // stageFloat32: reduce low-precision types on float32 copies and round once at the end
  // (STRATA_REDUCE_PRECISION=float32) instead of at their own width.
  Planner(CommShape shape, TuneTable tune, bool stageFloat32 = false)
      : shape_(shape), tune_(std::move(tune)), stageFloat32_(stageFloat32) {}

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
  bool stageFloat32_ = false;
  std::map<CallKey, PlanPtr> cache_;
  std::optional<CallKey> lastKey_;
  PlanPtr last_;
};

}  // namespace strata
