// Ring algorithms: AllReduce as ReduceScatter + AllGather around a ring, and the ring
// ReduceScatter, AllGather and AllGatherv. Bandwidth-optimal: each rank sends (n-1)/n of the data
// per phase; latency grows with n, so small messages prefer the one-shot algorithm.
#include "algorithms/patterns/ring.h"

#include "algorithms/algorithm.h"
#include "algorithms/patterns/blocks.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::blockOf;
using patterns::mod;
using patterns::Ring;

class RingAllReduce final : public Algorithm {
 public:
  const char* name() const override { return "ring"; }
  const char* description() const override {
    return "ReduceScatter then AllGather around a ring, one block per step: bandwidth-optimal, n-1 "
           "latencies per half";
  }
  CollType coll() const override { return CollType::kAllReduce; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t es = dtypeSize(a.dtype);
    const Ring ring{s.rank, s.nranks};
    auto blk = [&](int b) { return recvAt(blockOf(a.count, s.nranks, b).offset * es); };
    auto in = [&](int b) { return sendAt(blockOf(a.count, s.nranks, b).offset * es); };
    auto len = [&](int b) { return blockOf(a.count, s.nranks, b).count * es; };
    PlanBuilder pb = builderFor(p, a);
    if (s.nranks == 1 && !a.inPlace) pb.copy(sendAt(0), recvAt(0), a.count * es);
    // Each block of the output is first written by its reduction, reading the input directly,
    // so out-of-place calls never copy the input over first.
    for (int st = 0; st < s.nranks - 1; ++st) {
      pb.nextPhase();
      const int sb = ring.rsSendBlock(st);
      pb.send(ring.right(), st == 0 ? in(sb) : blk(sb), len(sb));
      const int rb = ring.rsRecvBlock(st);
      pb.recvReduce(ring.left(), blk(rb), in(rb), len(rb));
    }
    for (int st = 0; st < s.nranks - 1; ++st) {
      pb.nextPhase();
      pb.send(ring.right(), blk(ring.agSendBlock(st)), len(ring.agSendBlock(st)));
      pb.recv(ring.left(), blk(ring.agRecvBlock(st)), len(ring.agRecvBlock(st)));
    }
    pb.finish();
    return Status::ok();
  }
};

class RingReduceScatter final : public Algorithm {
 public:
  const char* name() const override { return "ring"; }
  const char* description() const override {
    return "partial sums travel round a ring, reduced at every hop: bandwidth-optimal, n-1 steps";
  }
  CollType coll() const override { return CollType::kReduceScatter; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int n = s.nranks;
    const int r = s.rank;
    auto in = [&](int b) { return sendAt(static_cast<size_t>(b) * bytes); };
    PlanBuilder pb = builderFor(p, a);
    if (n == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
      pb.finish();
      return Status::ok();
    }
    // Partial sums travel the ring in two scratch blocks used alternately.
    p.scratchBytes = n > 2 ? 2 * bytes : 0;
    for (int st = 0; st < n - 1; ++st) {
      pb.nextPhase();
      const BufRef out = st == 0 ? in(mod(r - 1, n)) : scratchAt(((st - 1) % 2) * bytes);
      pb.send(mod(r + 1, n), out, bytes);
      const int rb = mod(r - st - 2, n);
      const BufRef acc = st == n - 2 ? recvAt(0) : scratchAt((st % 2) * bytes);
      pb.recvReduce(mod(r - 1, n), acc, in(rb), bytes);
    }
    pb.finish();
    return Status::ok();
  }
};

// AllGather and AllGatherv share one plan: block b of the output holds rank b's contribution.
Status ringGatherPlan(const CollArgs& a, const CommShape& s, Plan& p,
                      const std::vector<size_t>& counts, const std::vector<size_t>& displs) {
  const size_t es = dtypeSize(a.dtype);
  const Ring ring{s.rank, s.nranks};
  auto blk = [&](int b) { return recvAt(displs[static_cast<size_t>(b)] * es); };
  auto len = [&](int b) { return counts[static_cast<size_t>(b)] * es; };
  PlanBuilder pb = builderFor(p, a);
  if (!a.inPlace) pb.copy(sendAt(0), blk(s.rank), len(s.rank));
  for (int st = 0; st < s.nranks - 1; ++st) {
    pb.nextPhase();
    pb.send(ring.right(), blk(mod(s.rank - st, s.nranks)), len(mod(s.rank - st, s.nranks)));
    const int rb = mod(s.rank - st - 1, s.nranks);
    pb.recv(ring.left(), blk(rb), len(rb));
  }
  pb.finish();
  return Status::ok();
}

class RingAllGather final : public Algorithm {
 public:
  const char* name() const override { return "ring"; }
  const char* description() const override {
    return "each block travels round a ring: bandwidth-optimal, n-1 steps";
  }
  CollType coll() const override { return CollType::kAllGather; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    std::vector<size_t> counts(static_cast<size_t>(s.nranks), a.count);
    std::vector<size_t> displs(counts.size());
    for (size_t i = 0; i < displs.size(); ++i) displs[i] = i * a.count;
    return ringGatherPlan(a, s, p, counts, displs);
  }
};

class RingAllGatherv final : public Algorithm {
 public:
  const char* name() const override { return "ring"; }
  const char* description() const override {
    return "each rank's block of its own size travels round a ring, n-1 steps";
  }
  CollType coll() const override { return CollType::kAllGatherv; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    return ringGatherPlan(a, s, p, a.recvcounts, a.rdispls);
  }
};

}  // namespace

const Algorithm& ringAllReduce() {
  static const RingAllReduce a;
  return a;
}
const Algorithm& ringReduceScatter() {
  static const RingReduceScatter a;
  return a;
}
const Algorithm& ringAllGather() {
  static const RingAllGather a;
  return a;
}
const Algorithm& ringAllGatherv() {
  static const RingAllGatherv a;
  return a;
}

}  // namespace strata
