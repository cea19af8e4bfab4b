// Recursive-doubling AllGather: log2 p steps of doubling exchanges (p = 2^floor(log2 n)), each
// rank swapping everything it holds with the rank at distance 1, 2, 4, ... For n not a power of
// two the ranks are folded (patterns/folding.h): each even rank below 2·rem hands its block to
// the odd rank above it before the doubling, and gets the whole output back after it.
#include "algorithms/algorithm.h"
#include "algorithms/patterns/folding.h"
#include "algorithms/recursive_exchange.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::Folding;

class RecDblAllGather final : public Algorithm {
 public:
  const char* name() const override { return "recdbl"; }
  const char* description() const override {
    return "recursive doubling: log2(n) steps, each doubling what a rank holds (folding the "
           "ranks beyond a power of two)";
  }
  CollType coll() const override { return CollType::kAllGather; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t es = dtypeSize(a.dtype);
    const size_t block = a.count * es;
    const int n = s.nranks, r = s.rank;
    const Folding f(n);
    auto out = [&](int j) { return recvAt(static_cast<size_t>(j) * block); };
    // In place, the rank's own block already sits in the output.
    const BufRef mine = a.inPlace ? out(r) : sendAt(0);
    PlanBuilder pb = builderFor(p, a);
    if (!a.inPlace) pb.copy(mine, out(r), block);
    const int nr = f.newRank(r);
    if (nr < 0) {  // hands its block up, gets the whole output back
      pb.send(r + 1, mine, block);
      pb.nextPhase();
      pb.recv(r + 1, recvAt(0), static_cast<size_t>(n) * block);
      pb.finish();
      return Status::ok();
    }
    if (r < 2 * f.rem) pb.recv(r - 1, out(r - 1), block);
    auto edge = [&](int j) { return static_cast<size_t>(f.first(j)) * a.count; };
    recursiveDoubling(pb, f, nr, edge, es, recvAt(0));
    if (r < 2 * f.rem) {
      pb.nextPhase();
      pb.send(r - 1, recvAt(0), static_cast<size_t>(n) * block);
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& recDblAllGather() {
  static const RecDblAllGather a;
  return a;
}

}  // namespace strata
