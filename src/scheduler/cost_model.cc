#include "scheduler/cost_model.h"

#include <algorithm>

#include "plan/timing_only.h"

namespace strata {
namespace {

bool forwards(OpKind k) { return k == OpKind::kRecvReduceSend || k == OpKind::kRecvCopySend; }

bool receives(OpKind k) {
  return k == OpKind::kRecv || k == OpKind::kRecvReduce || k == OpKind::kRecvDequantize;
}

// The op kinds that take a message (or signal) in the phase walk, in posting order per sender.
bool matchesMessage(OpKind k) { return receives(k) || k == OpKind::kWait; }

// The plan as the phase walk can time it. The walk runs a phase's sends at its start and ends
// the phase when all its receives have landed, so a plan written as one phase of ops ordered by
// `after` (forwarding, store and forward) is cut into steps:
// - a forwarding op becomes its receive, and its send on opens the next step;
// - a send that names a receive of its phase in `after` opens a new step right after the latest
//   such receive still pending; the receives posted after that one, which the send does not
//   wait for, move to the new step (in their order, so each sender's messages still match in
//   posting order), while the sends and local ops posted after it stay where they were (they
//   wait for nothing of that step). Cutting after every receive pending instead would make the
//   send wait for all of them: where two ranks each forward what the other sends them, as the
//   double binary tree's ranks do (parent in one tree, child in the other), neither step could
//   end;
// - a send whose receives have all landed in earlier steps opens none.
// Other `after` lists go: ops only move between phases, in order.
PlanPtr forPricing(const Plan& p) {
  auto out = std::make_shared<Plan>();
  out->algo = p.algo;
  out->nranks = p.nranks;
  out->extraSlots = p.extraSlots;
  out->callbackSlots = p.callbackSlots;
  out->flags = p.flags;  // flag ops take no time in the walk; flagCosts prices them
  for (const Phase& ph : p.phases) {
    Phase cur;
    // For each op of cur, its index in ph (-1 for the halves of a forwarding op); for each op of
    // ph, its place in cur while it is there (-1 once its step is closed).
    std::vector<int> origin;
    std::vector<int> at(ph.ops.size(), -1);
    auto push = [&](const Op& o, int i) {
      if (i >= 0) at[static_cast<size_t>(i)] = static_cast<int>(cur.ops.size());
      cur.ops.push_back(o);
      origin.push_back(i);
    };
    // Closes the step after cur.ops[last]; the receives after it open the next one.
    auto closeAfter = [&](size_t last) {
      Phase closed, next;
      std::vector<int> nextOrigin;
      for (size_t j = 0; j < cur.ops.size(); ++j) {
        const int i = origin[j];
        if (i >= 0) at[static_cast<size_t>(i)] = -1;
        if (j > last && matchesMessage(cur.ops[j].kind)) {
          if (i >= 0) at[static_cast<size_t>(i)] = static_cast<int>(next.ops.size());
          next.ops.push_back(cur.ops[j]);
          nextOrigin.push_back(i);
        } else {
          closed.ops.push_back(cur.ops[j]);
        }
      }
      out->phases.push_back(std::move(closed));
      cur = std::move(next);
      origin = std::move(nextOrigin);
    };
    for (size_t i = 0; i < ph.ops.size(); ++i) {
      const Op& op = ph.ops[i];
      Op o = op;
      o.after.clear();
      if (op.kind == OpKind::kSend) {
        int latest = -1;
        for (uint16_t a : op.after)
          if (a < i && receives(ph.ops[a].kind)) latest = std::max(latest, at[a]);
        if (latest >= 0) closeAfter(static_cast<size_t>(latest));
      }
      if (!forwards(op.kind)) {
        push(o, static_cast<int>(i));
        continue;
      }
      Op recv = o;
      recv.kind = op.kind == OpKind::kRecvReduceSend ? OpKind::kRecvReduce : OpKind::kRecv;
      recv.peer2 = -1;
      push(recv, -1);
      closeAfter(cur.ops.size() - 1);
      Op send = o;
      send.kind = OpKind::kSend;
      send.peer = op.peer2;
      send.peer2 = -1;
      send.src = op.dst;
      push(send, -1);
    }
    if (!cur.ops.empty()) out->phases.push_back(std::move(cur));
  }
  return out;
}

// Phase boundaries, signal waits and receive handshakes (one per chunk received) of one plan as
// written. Each chunk a CPU-driven transport delivers costs its receiver one look at the slot's
// flag, as a signal does; without that term a message cut in two is never dearer than whole,
// since the walk overlaps the halves' α (docs/tuning.md, the cost model).
size_t syncPoints(const Plan& p, size_t chunkBytes) {
  size_t n = p.phases.size();
  for (const Phase& ph : p.phases)
    for (const Op& op : ph.ops) {
      if (op.kind == OpKind::kWait || op.kind == OpKind::kFlagWait) ++n;
      if (receives(op.kind) || forwards(op.kind)) n += (op.bytes + chunkBytes - 1) / chunkBytes;
    }
  return n;
}

bool peersFlagSlot(const BufRef& b) { return b.slot == kFlagBuf && b.rank != kThisRank; }

// Bytes one plan copies to or from other ranks' buffers (direct plans over windows; copies from
// peers' flag slots are the control segment's, below).
size_t directCopyBytes(const Plan& p) {
  size_t n = 0;
  for (const Phase& ph : p.phases)
    for (const Op& op : ph.ops)
      if (op.kind == OpKind::kCopy && !peersFlagSlot(op.src) &&
          (op.src.rank != kThisRank || op.dst.rank != kThisRank))
        n += op.bytes;
  return n;
}

// What one flag plan costs beyond its phases and waits: the phases that wait on flags (one
// handoff of the flags' cache lines each) and the bytes it moves through the control segment:
// posted into its own slot, and read from its peers' slots by copies and reductions.
struct FlagCost {
  size_t rounds = 0;
  size_t bytes = 0;
};

FlagCost flagCost(const Plan& p) {
  FlagCost c;
  if (!p.flags) return c;
  for (const Phase& ph : p.phases) {
    bool waits = false;
    for (const Op& op : ph.ops) {
      waits |= op.kind == OpKind::kFlagWait;
      if (op.kind == OpKind::kFlagPost) c.bytes += op.bytes;
      if (op.kind == OpKind::kCopy && peersFlagSlot(op.src)) c.bytes += op.bytes;
      if (op.kind == OpKind::kReduceLocal && op.src.slot == kFlagBuf) {
        // Operands in rank order: every rank's slot (kEveryRank: nsrc of them) but this one's,
        // or the two named.
        size_t peers = op.src.rank == kEveryRank ? static_cast<size_t>(op.nsrc - 1) : 0;
        if (op.src.rank != kEveryRank) {
          peers += op.src.rank != kThisRank ? 1 : 0;
          peers += op.src2.slot == kFlagBuf && op.src2.rank != kThisRank ? 1 : 0;
          // Two operands that are both this rank's own slot read no peer; ofRank(.., rank)
          // names this rank by number, which the plan cannot tell from a peer: count n-1 at most.
          peers = std::min(peers, static_cast<size_t>(std::max(p.nranks - 1, 0)));
        }
        c.bytes += op.bytes * peers;
      }
    }
    c.rounds += waits ? 1 : 0;
  }
  return c;
}

// Bytes one plan copies between its own buffers (staging into scratch, rotations), which the
// phase walk does not time.
size_t localCopyBytes(const Plan& p) {
  size_t n = 0;
  for (const Phase& ph : p.phases)
    for (const Op& op : ph.ops)
      if (op.kind == OpKind::kCopy && op.src.rank == kThisRank && op.dst.rank == kThisRank)
        n += op.bytes;
  return n;
}

}  // namespace

CostModel costModelFor(const Topology& topo, bool modelsTime, size_t chunkBytes) {
  CostModel m;
  m.links = topo;
  m.chunkBytes = std::max<size_t>(chunkBytes, 1);
  if (!m.links.levels.empty()) {
    m.directBytesPerSecond = m.links.levels.front().link.gbps * 1e9;
    m.flagRoundSeconds = m.links.levels.front().link.alphaUs * 1e-6;
    m.controlBytesPerSecond = m.directBytesPerSecond;
  }
  if (modelsTime) return m;
  m.syncSeconds = kCpuSyncSeconds;
  m.localCopyBytesPerSecond = m.directBytesPerSecond;
  for (LevelSpec& l : m.links.levels) {
    if (l.port >= 0) continue;
    l.port = static_cast<int>(m.links.ports.size());
    m.links.ports.push_back({l.name + "-cpu", l.link.gbps});
  }
  return m;
}

Result<std::vector<PlanPtr>> plansForEveryRank(const Algorithm& algo, const CollArgs& args,
                                               const CommShape& shape) {
  std::vector<PlanPtr> plans;
  plans.reserve(static_cast<size_t>(shape.nranks));
  for (int r = 0; r < shape.nranks; ++r) {
    CommShape s = shape;
    s.rank = r;
    auto p = std::make_shared<Plan>();
    p->algo = algo.name();
    p->nranks = shape.nranks;
    STRATA_CHECK(algo.plan(args, s, *p));
    plans.push_back(std::move(p));
  }
  return plans;
}

Result<double> pricePlans(const CostModel& model, const std::vector<PlanPtr>& plans) {
  std::vector<PlanPtr> walked;
  walked.reserve(plans.size());
  size_t syncs = 0;
  size_t direct = 0;
  size_t local = 0;
  FlagCost flags;
  for (const PlanPtr& p : plans) {
    walked.push_back(forPricing(*p));
    const FlagCost f = flagCost(*p);
    flags.rounds = std::max(flags.rounds, f.rounds);
    flags.bytes = std::max(flags.bytes, f.bytes);
    syncs = std::max(syncs, syncPoints(*p, model.chunkBytes));
    direct = std::max(direct, directCopyBytes(*p));
    local = std::max(local, localCopyBytes(*p));
  }
  STRATA_ASSIGN(SimResult r, evaluatePlans(model.links, walked, model.chunkBytes));
  double copies =
      direct && model.directBytesPerSecond > 0 ? direct / model.directBytesPerSecond : 0;
  if (local && model.localCopyBytesPerSecond > 0)
    copies += static_cast<double>(local) / model.localCopyBytesPerSecond;
  copies += static_cast<double>(flags.rounds) * model.flagRoundSeconds;
  if (flags.bytes && model.controlBytesPerSecond > 0)
    copies += static_cast<double>(flags.bytes) / model.controlBytesPerSecond;
  return static_cast<double>(r.maxEndPs) * 1e-12 + static_cast<double>(syncs) * model.syncSeconds +
         copies;
}

}  // namespace strata
