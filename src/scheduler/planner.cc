#include "scheduler/planner.h"

#include "base/logging.h"
#include "base/dtype.h"
#include "scheduler/selector.h"

namespace strata {
namespace {

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

Result<PlanPtr> Planner::build(const CollArgs& args) const {
  const bool reduction = isReduction(args.coll);
  const bool staged = reduction && isLowPrecision(args.dtype);
  const int n = shape_.nranks;
  CollArgs a = args;
  if (staged) {
    a.dtype = strataFloat32;
    a.inPlace = args.coll == CollType::kAllReduce;
  }
  STRATA_ASSIGN(const Algorithm* algo, selectAlgorithm(a, shape_, tune_));
  auto plan = std::make_shared<Plan>();
  plan->algo = algo->name();
  plan->nranks = n;
  plan->dtype = a.dtype;
  plan->userDtype = args.dtype;
  plan->op = args.op == strataAvg ? strataSum : args.op;
  STRATA_CHECK(algo->plan(a, shape_, *plan));

  if (!reduction) return PlanPtr(plan);
  const size_t inElems = args.coll == CollType::kReduceScatter ? args.count * n : args.count;
  const size_t outElems = args.count;
  const bool hasOutput = args.coll != CollType::kReduce || args.root == shape_.rank;
  if (staged) {
    const int outSlot = args.coll == CollType::kAllReduce ? kStageInBuf : kStageOutBuf;
    remapSlots(*plan, kSendBuf, kStageInBuf);
    remapSlots(*plan, kRecvBuf, outSlot);
    plan->stageInBytes = inElems * sizeof(float);
    plan->stageOutBytes = outSlot == kStageOutBuf ? outElems * sizeof(float) : 0;
    if (inElems > 0) {
      Op widen;
      widen.kind = OpKind::kWiden;
      widen.src = sendAt(0);
      widen.dst = {kStageInBuf, 0};
      widen.elems = inElems;
      plan->phases.insert(plan->phases.begin(), Phase{{widen}});
    }
    if (hasOutput) {
      PlanBuilder pb(*plan);
      pb.nextPhase();
      if (args.op == strataAvg) pb.divide({outSlot, 0}, outElems, strataFloat32);
      pb.narrow({outSlot, 0}, recvAt(0), outElems);
      pb.finish();
    }
  } else if (args.op == strataAvg && hasOutput) {
    PlanBuilder pb(*plan);
    pb.nextPhase();
    pb.divide(recvAt(0), outElems, args.dtype);
    pb.finish();
  }
  STRATA_TRACE(Subsys::kColl, "%s count %zu %s: algorithm %s, %zu phases, %zu ops",
               collName(args.coll), args.count, dtypeName(args.dtype), plan->algo.c_str(),
               plan->phases.size(), plan->opCount());
  return PlanPtr(plan);
}

PlanPtr Planner::planPointToPoint(const std::vector<CollArgs>& calls) const {
  auto plan = std::make_shared<Plan>();
  plan->algo = "p2p";
  plan->nranks = shape_.nranks;
  plan->dtype = strataUint8;
  plan->userDtype = strataUint8;
  plan->extraSlots = static_cast<int>(calls.size());
  PlanBuilder pb(*plan);
  for (size_t i = 0; i < calls.size(); ++i) {
    const CollArgs& c = calls[i];
    const BufRef buf{kFirstExtraBuf + static_cast<int>(i), 0};
    const size_t bytes = c.count * dtypeSize(c.dtype);
    if (c.coll == CollType::kSend) pb.send(c.peer, buf, bytes);
    else pb.recv(c.peer, buf, bytes);
  }
  pb.finish();
  return plan;
}

}  // namespace strata
