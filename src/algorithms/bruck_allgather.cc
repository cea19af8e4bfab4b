// Bruck AllGather: ceil(log2 n) steps for any n. Blocks are kept in scratch in order relative to
// this rank (slot j holds rank r+j's block); in the step at distance d = 2^k each rank sends its
// first min(d, n-d) slots to rank r-d and receives as many from rank r+d into slots d onward, so
// after it the first min(2d, n) slots are filled. A final local rotation puts slot j at block
// (r+j) mod n of the output. Fewer steps than the ring (n-1) for the same bytes per rank, at the
// cost of the copies into and out of scratch: it wins for small blocks on many ranks.
#include <algorithm>

#include "algorithms/algorithm.h"
#include "algorithms/patterns/ring.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::mod;

class BruckAllGather final : public Algorithm {
 public:
  const char* name() const override { return "bruck"; }
  const char* description() const override {
    return "log2(n) steps for any n: slots relative to the rank double at every step, then a "
           "local rotation";
  }
  CollType coll() const override { return CollType::kAllGather; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int n = s.nranks, r = s.rank;
    auto out = [&](int j) { return recvAt(static_cast<size_t>(j) * bytes); };
    // In place, the rank's own block already sits in the output.
    const BufRef mine = a.inPlace ? out(r) : sendAt(0);
    PlanBuilder pb = builderFor(p, a);
    if (n == 1) {
      if (!a.inPlace) pb.copy(mine, out(0), bytes);
      pb.finish();
      return Status::ok();
    }
    p.scratchBytes = static_cast<size_t>(n) * bytes;
    auto slot = [&](int j) { return scratchAt(static_cast<size_t>(j) * bytes); };
    pb.copy(mine, slot(0), bytes);
    for (int d = 1; d < n; d <<= 1) {
      pb.nextPhase();
      const size_t m = static_cast<size_t>(std::min(d, n - d));
      pb.send(mod(r - d, n), slot(0), m * bytes);
      pb.recv(mod(r + d, n), slot(d), m * bytes);
    }
    pb.nextPhase();
    pb.copy(slot(0), out(r), static_cast<size_t>(n - r) * bytes);
    pb.copy(slot(n - r), out(0), static_cast<size_t>(r) * bytes);
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& bruckAllGather() {
  static const BruckAllGather a;
  return a;
}

}  // namespace strata
