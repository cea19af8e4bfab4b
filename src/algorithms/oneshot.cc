// One-shot AllReduce: every rank sends its whole input to every peer and reduces all n inputs
// locally in one op, in rank order so every rank computes bit-identical results (and rounds a
// low-precision type once). One step of latency;
// (n-1)x the bytes of a ring, so it wins for small messages.
#include "algorithms/algorithm.h"
#include "base/dtype.h"

namespace strata {
namespace {

class OneShotAllReduce final : public Algorithm {
 public:
  const char* name() const override { return "oneshot"; }
  const char* description() const override {
    return "every rank sends its whole input to every peer and reduces all n locally: one step, "
           "n-1 times the bytes";
  }
  CollType coll() const override { return CollType::kAllReduce; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int n = s.nranks;
    PlanBuilder pb = builderFor(p, a);
    if (n == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
      pb.finish();
      return Status::ok();
    }
    if (n == 2) {
      // One exchange, reduced straight into the output with rank 0's operand first on both
      // ranks. In place, the input is saved first: the output may fill before it is all sent.
      const int peer = 1 - s.rank;
      BufRef mine = sendAt(0);
      OpId saved = PlanBuilder::kNoOp;
      if (a.inPlace) {
        p.scratchBytes = bytes;
        saved = pb.copy(sendAt(0), scratchAt(0), bytes);
        mine = scratchAt(0);
      }
      pb.send(peer, mine, bytes, {saved});
      pb.recvReduce(peer, recvAt(0), mine, bytes, /*incomingFirst=*/s.rank == 1, {saved});
      pb.finish();
      return Status::ok();
    }
    // Every input lands in its own scratch block (own one copied) so the reduction order is
    // the same on every rank and in-place calls never read a block they already overwrote.
    p.scratchBytes = static_cast<size_t>(n) * bytes;
    auto slot = [&](int r) { return scratchAt(static_cast<size_t>(r) * bytes); };
    pb.copy(sendAt(0), slot(s.rank), bytes);
    for (int k = 1; k < n; ++k) {
      const int to = (s.rank + k) % n;
      const int from = (s.rank - k + n) % n;
      pb.send(to, sendAt(0), bytes);
      pb.recv(from, slot(from), bytes);
    }
    // One op reads all n inputs: low-precision types accumulate in float32 and round once.
    pb.nextPhase();
    pb.reduceMany(recvAt(0), slot(0), bytes, n, bytes);
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& oneShotAllReduce() {
  static const OneShotAllReduce a;
  return a;
}

}  // namespace strata
