// Dissemination barrier: in round k every rank signals rank+2^k and waits for rank-2^k; after
// ceil(log2 n) rounds every rank has heard, directly or not, from all others.
#include "algorithms/algorithm.h"
#include "algorithms/patterns/ring.h"

namespace strata {
namespace {

class DisseminationBarrier final : public Algorithm {
 public:
  const char* name() const override { return "dissemination"; }
  const char* description() const override {
    return "round k signals rank+2^k and waits for rank-2^k: ceil(log2 n) rounds";
  }
  CollType coll() const override { return CollType::kBarrier; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    p.scratchBytes = 2;
    PlanBuilder pb = builderFor(p, a);
    for (int k = 1; k < s.nranks; k *= 2) {
      pb.nextPhase();
      pb.send(patterns::mod(s.rank + k, s.nranks), scratchAt(0), 1);
      pb.recv(patterns::mod(s.rank - k, s.nranks), scratchAt(1), 1);
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& disseminationBarrier() {
  static const DisseminationBarrier a;
  return a;
}

}  // namespace strata
