// Turns a call into the plan this rank runs: picks the algorithm, stages low-precision
// reductions through float32 when asked to, appends the division of Avg, and caches the result
// per call shape.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "algorithms/algorithm.h"
#include "plan/coll_args.h"
#include "plan/plan.h"
#include "scheduler/selection_context.h"
#include "scheduler/selector.h"
#include "scheduler/tune_string.h"

namespace strata {

class Planner {
 public:
  // stageFloat32: reduce low-precision types on float32 copies and round once at the end
  // (STRATA_REDUCE_PRECISION=float32) instead of at their own width.
  // tuneFile: the tune file's entries for this topology (STRATA_TUNE_FILE), or null.
  Planner(SelectionContext ctx, TuneTable tune, bool stageFloat32 = false,
          std::shared_ptr<const TuneTable> tuneFile = nullptr)
      : ctx_(std::move(ctx)),
        tune_(std::move(tune)),
        tuneFile_(std::move(tuneFile)),
        stageFloat32_(stageFloat32) {}
  // Without a topology: every rank on one host (hostSelectionContext).
  Planner(const CommShape& shape, TuneTable tune, bool stageFloat32 = false)
      : Planner(hostSelectionContext(shape), std::move(tune), stageFloat32) {}

  // The plan for one collective (not Send/Recv). Not thread-safe: a communicator's calls are
  // serialised by its exec mutex, which every caller holds.
  Result<PlanPtr> planFor(const CollArgs& args);

  // One plan running every Send and Recv of a group together in a single phase. Op i addresses
  // its buffer as slot kFirstExtraBuf + i.
  PlanPtr planPointToPoint(const std::vector<CollArgs>& calls) const;

  const CommShape& shape() const { return ctx_.shape; }
  const SelectionContext& context() const { return ctx_; }
  // Whether the algorithm this call would run plans from its level-0 group's send counts
  // (Algorithm::needsGroupCounts), which the caller then exchanges into args.groupSendCounts
  // before planFor; without them such an algorithm plans from a stand-in.
  bool needsGroupCounts(const CollArgs& args) const;
  // Leaves the TUNE log to another planner of the same call (timing-only evaluation logs rank 0).
  void setQuiet(bool quiet) { quiet_ = quiet; }
  TuneSources tuneSources() const { return {&tune_, tuneFile_.get()}; }

 private:
  Result<PlanPtr> build(const CollArgs& args) const;

  SelectionContext ctx_;
  TuneTable tune_;
  std::shared_ptr<const TuneTable> tuneFile_;
  bool stageFloat32_ = false;
  bool quiet_ = false;
  std::map<CallKey, PlanPtr> cache_;
  std::optional<CallKey> lastKey_;
  PlanPtr last_;
};

}  // namespace strata
