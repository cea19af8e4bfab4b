// Recursive halving-doubling (Rabenseifner) AllReduce and recursive-halving ReduceScatter, with
// folding for rank counts that are not powers of two. With p = 2^floor(log2 n) and rem = n - p,
// the first 2·rem ranks pair up: each even one hands its whole input to the odd one above it
// and sits out; the p remaining ranks (new ranks 0..p-1) each stand for a contiguous range of
// blocks. Recursive halving: in the step at distance m (p/2 down to 1) each new rank exchanges
// with new rank ^ m, sending the half of its current range it gives up and reducing the half it
// keeps; after log2 p steps it holds its own range, reduced over everyone. AllReduce then
// doubles the ranges back (recursive doubling) and hands the result to the ranks that sat out;
// ReduceScatter hands each folded rank its block. 2·log2 p steps (+2 when folding) and about
// 2(n-1)/n of the data per rank: the ring's bytes in logarithmic steps.
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/patterns/blocks.h"
#include "algorithms/patterns/folding.h"
#include "algorithms/recursive_exchange.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::Folding;

class RhdAllReduce final : public Algorithm {
 public:
  const char* name() const override { return "rhd"; }
  const char* description() const override {
    return "recursive halving ReduceScatter then recursive doubling AllGather (Rabenseifner), "
           "folding the ranks beyond a power of two: 2 log2(n) steps, the ring's bytes";
  }
  CollType coll() const override { return CollType::kAllReduce; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t es = dtypeSize(a.dtype);
    const size_t bytes = a.count * es;
    const Folding f(s.nranks);
    const int r = s.rank;
    PlanBuilder pb = builderFor(p, a);
    if (s.nranks == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
      pb.finish();
      return Status::ok();
    }
    const int nr = f.newRank(r);
    if (nr < 0) {  // hands its input up, gets the result back
      pb.send(r + 1, sendAt(0), bytes);
      pb.nextPhase();
      pb.recv(r + 1, recvAt(0), bytes);
      pb.finish();
      return Status::ok();
    }
    BufRef held = sendAt(0);
    if (r < 2 * f.rem) {
      pb.recvReduce(r - 1, recvAt(0), sendAt(0), bytes);
      held = recvAt(0);
    }
    auto edge = [&](int j) {
      return j == f.p ? a.count : patterns::blockOf(a.count, f.p, j).offset;
    };
    recursiveHalving(pb, f, nr, edge, es, held, recvAt(0));
    recursiveDoubling(pb, f, nr, edge, es, recvAt(0));
    if (r < 2 * f.rem) {
      pb.nextPhase();
      pb.send(r - 1, recvAt(0), bytes);
    }
    pb.finish();
    return Status::ok();
  }
};

class RhdReduceScatter final : public Algorithm {
 public:
  const char* name() const override { return "rhd"; }
  const char* description() const override {
    return "recursive halving, folding the ranks beyond a power of two: log2(n) steps, the "
           "ring's bytes";
  }
  CollType coll() const override { return CollType::kReduceScatter; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t es = dtypeSize(a.dtype);
    const size_t block = a.count * es;
    const auto n = static_cast<size_t>(s.nranks);
    const Folding f(s.nranks);
    const int r = s.rank;
    PlanBuilder pb = builderFor(p, a);
    if (s.nranks == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), block);
      pb.finish();
      return Status::ok();
    }
    const int nr = f.newRank(r);
    if (nr < 0) {  // hands its input up, gets its block back
      pb.send(r + 1, sendAt(0), n * block);
      pb.nextPhase();
      pb.recv(r + 1, recvAt(0), block);
      pb.finish();
      return Status::ok();
    }
    // Partial sums in scratch (recvbuff holds one block); new rank j stands for old ranks'
    // blocks from its first old rank on.
    p.scratchBytes = n * block;
    BufRef held = sendAt(0);
    if (r < 2 * f.rem) {
      pb.recvReduce(r - 1, scratchAt(0), sendAt(0), n * block);
      held = scratchAt(0);
    }
    auto edge = [&](int j) { return static_cast<size_t>(f.first(j)) * a.count; };
    recursiveHalving(pb, f, nr, edge, es, held, scratchAt(0));
    pb.nextPhase();
    if (r < 2 * f.rem) pb.send(r - 1, scratchAt(static_cast<size_t>(r - 1) * block), block);
    pb.copy(scratchAt(static_cast<size_t>(r) * block), recvAt(0), block);
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& rhdAllReduce() {
  static const RhdAllReduce a;
  return a;
}
const Algorithm& rhdReduceScatter() {
  static const RhdReduceScatter a;
  return a;
}

}  // namespace strata
