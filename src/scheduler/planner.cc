#include "scheduler/planner.h"

#include <algorithm>

#include "base/dtype.h"
#include "base/logging.h"
#include "scheduler/selector.h"

namespace strata {
namespace {

// The scalar of a pre-multiplied sum: the call binds it as extra slot 0 (launch.cc).
constexpr BufRef kPreMulScalar{kFirstExtraBuf, 0};

// The fused AllReduce is not one of these: its plan divides Avg itself before the epilogue and
// it always reduces at the wire's width (its callbacks see the caller's type).
bool isReduction(CollType c) {
  return c == CollType::kAllReduce || c == CollType::kReduce || c == CollType::kReduceScatter;
}

void remapSlots(Plan& p, int from, int to) {
  for (Phase& ph : p.phases) {
    for (Op& op : ph.ops) {
      for (BufRef* r : {&op.src, &op.src2, &op.dst})
        if (r->slot == from) r->slot = to;
    }
  }
}

}  // namespace

Result<PlanPtr> Planner::planFor(const CollArgs& args) {
  const std::optional<CallKey> key = callKey(args);
  if (!key) return build(args);
  if (last_ && lastKey_ == key) return last_;  // calls in a loop repeat one shape
  auto it = cache_.find(*key);
  if (it != cache_.end()) {
    lastKey_ = key;
    last_ = it->second;
    return last_;
  }
  STRATA_ASSIGN(PlanPtr plan, build(args));
  cache_.emplace(*key, plan);
  lastKey_ = key;
  last_ = plan;
  return plan;
}

bool Planner::needsGroupCounts(const CollArgs& args) const {
  if (args.coll != CollType::kAllToAllv) return false;
  // The selection below is made again when the call is planned: skip it (and its pricing) where
  // no algorithm that plans from the counts could run.
  const bool possible = std::any_of(
      algorithmRegistry().begin(), algorithmRegistry().end(), [&](const Algorithm* a) {
        return a->coll() == args.coll && a->needsGroupCounts() && a->supports(args, ctx_.shape);
      });
  if (!possible) return false;
  Result<Selection> sel = selectAlgorithm(args, ctx_, tuneSources());
  return sel.isOk() && sel.value().algo->needsGroupCounts();
}

Result<PlanPtr> Planner::build(const CollArgs& args) const {
  const bool reduction = isReduction(args.coll);
  // Low-precision reductions travel at their own width and round once per op, unless the
  // communicator asked for float32 staging (one rounding under any algorithm).
  const bool staged = reduction && isLowPrecision(args.dtype) && stageFloat32_;
  const int n = ctx_.shape.nranks;
  // A pre-multiplied sum reduces a scaled copy of the input (each rank multiplies its own
  // contribution once), so the algorithm runs out of place from the staging buffer.
  const bool preMul = reduction && args.premul.on;
  CollArgs a = args;
  a.premul = PreMulArgs{};
  if (staged) {
    a.windowed = false;  // staging buffers are private: peers cannot address them
    a.dtype = strataFloat32;
    a.inPlace = args.coll == CollType::kAllReduce;
  } else if (preMul) {
    a.windowed = false;
    a.inPlace = false;
  }
  const bool explain = !quiet_ && logEnabled(LogLevel::kInfo, Subsys::kTune);
  STRATA_ASSIGN(const Selection sel, selectAlgorithm(a, ctx_, tuneSources(), explain));
  if (explain) {
    STRATA_INFO(Subsys::kTune, "%s %zu bytes %s on %d ranks (topology '%s'): %s",
                collName(args.coll), args.messageBytes(n), dtypeName(args.dtype), n,
                ctx_.topology->name.c_str(), describeSelection(sel).c_str());
  }
  const Algorithm* algo = sel.algo;
  CommShape shape = ctx_.shape;
  if (sel.chunkBytes) shape.chunkBytes = sel.chunkBytes;
  auto plan = std::make_shared<Plan>();
  plan->algo = algo->name();
  plan->algoSource = sourceName(sel.source);
  plan->nranks = n;
  STRATA_CHECK(algo->plan(a, shape, *plan));

  if (reduction) {
    const size_t inElems = args.coll == CollType::kReduceScatter ? args.count * n : args.count;
    const size_t outElems = args.count;
    const bool hasOutput = args.coll != CollType::kReduce || args.root == ctx_.shape.rank;
    if (staged) {
      const int outSlot = args.coll == CollType::kAllReduce ? kStageInBuf : kStageOutBuf;
      remapSlots(*plan, kSendBuf, kStageInBuf);
      remapSlots(*plan, kRecvBuf, outSlot);
      plan->stageInBytes = inElems * sizeof(float);
      plan->stageOutBytes = outSlot == kStageOutBuf ? outElems * sizeof(float) : 0;
      Plan widen;
      if (preMul)
        PlanBuilder(widen).preMultiply(sendAt(0), args.dtype, kPreMulScalar, {kStageInBuf, 0},
                                       strataFloat32, inElems);
      else
        PlanBuilder(widen).convert(sendAt(0), args.dtype, {kStageInBuf, 0}, strataFloat32,
                                   inElems);
      if (!widen.phases.empty()) plan->phases.insert(plan->phases.begin(), widen.phases.front());
      if (hasOutput) {
        PlanBuilder pb(*plan, strataFloat32);
        pb.nextPhase();
        const OpId div =
            args.op == strataAvg ? pb.divide({outSlot, 0}, outElems) : PlanBuilder::kNoOp;
        pb.convert({outSlot, 0}, strataFloat32, recvAt(0), args.dtype, outElems, {div});
        pb.finish();
      }
    } else if (preMul) {
      remapSlots(*plan, kSendBuf, kStageInBuf);
      plan->stageInBytes = inElems * dtypeSize(args.dtype);
      Plan scale;
      PlanBuilder(scale).preMultiply(sendAt(0), args.dtype, kPreMulScalar, {kStageInBuf, 0},
                                     args.dtype, inElems);
      if (!scale.phases.empty()) plan->phases.insert(plan->phases.begin(), scale.phases.front());
    } else if (args.op == strataAvg && hasOutput) {
      PlanBuilder pb(*plan, args.dtype);
      pb.nextPhase();
      pb.divide(recvAt(0), outElems);
      pb.finish();
    }
    if (preMul) plan->extraSlots = std::max(plan->extraSlots, 1);
  }
  const std::string invalid = plan->validate();
  if (!invalid.empty()) return makeError(strataInternalError, "%s", invalid.c_str());
  STRATA_TRACE(Subsys::kColl, "%s count %zu %s: algorithm %s, %zu phases, %zu ops",
               collName(args.coll), args.count, dtypeName(args.dtype), plan->algo.c_str(),
               plan->phases.size(), plan->opCount());
  return PlanPtr(plan);
}

PlanPtr Planner::planPointToPoint(const std::vector<CollArgs>& calls) const {
  auto plan = std::make_shared<Plan>();
  plan->algo = "p2p";
  plan->nranks = ctx_.shape.nranks;
  plan->extraSlots = static_cast<int>(calls.size());
  PlanBuilder pb(*plan);
  for (size_t i = 0; i < calls.size(); ++i) {
    const CollArgs& c = calls[i];
    const BufRef buf{kFirstExtraBuf + static_cast<int>(i), 0};
    const size_t bytes = c.count * dtypeSize(c.dtype);
    if (c.coll == CollType::kSend)
      pb.send(c.peer, buf, bytes);
    else
      pb.recv(c.peer, buf, bytes);
  }
  pb.finish();
  return plan;
}

}  // namespace strata
