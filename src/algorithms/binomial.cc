// Binomial-tree Broadcast and Reduce: ceil(log2 n) rounds of whole messages. With ranks numbered
// relative to the root (v = rank - root mod n), in round k (mask = 2^k) every rank v < mask that
// has the data sends it to v + mask; Reduce runs the same tree leaves-first, each rank reducing
// its children's partial results into its own before sending to its parent v - lowbit(v). Fewer
// steps than the chain (log2 n instead of n - 1) but no pipelining: it wins for small messages.
#include "algorithms/algorithm.h"
#include "algorithms/patterns/binomial_tree.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::BinomialTree;

class BinomialBroadcast final : public Algorithm {
 public:
  const char* name() const override { return "binomial"; }
  const char* description() const override {
    return "a binomial tree from the root: log2(n) steps of the whole message";
  }
  CollType coll() const override { return CollType::kBroadcast; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int n = s.nranks;
    const BinomialTree t{s.rank, n, a.root};
    const int v = t.relative();
    PlanBuilder pb = builderFor(p, a);
    if (v == 0 && !a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
    const BufRef data = v == 0 ? sendAt(0) : recvAt(0);
    for (int mask = 1; mask < n; mask <<= 1) {
      pb.nextPhase();
      if (v < mask) {
        if (v + mask < n) pb.send(t.actual(v + mask), data, bytes);
      } else if (v < 2 * mask) {
        pb.recv(t.actual(v - mask), recvAt(0), bytes);
      }
    }
    pb.finish();
    return Status::ok();
  }
};

class BinomialReduce final : public Algorithm {
 public:
  const char* name() const override { return "binomial"; }
  const char* description() const override {
    return "a binomial tree into the root, partial results reduced at every inner rank: log2(n) "
           "steps of the whole message";
  }
  CollType coll() const override { return CollType::kReduce; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int n = s.nranks;
    const BinomialTree t{s.rank, n, a.root};
    const int v = t.relative();
    PlanBuilder pb = builderFor(p, a);
    if (n == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
      pb.finish();
      return Status::ok();
    }
    // The root reduces into its output; an inner rank into scratch (its recvbuff is not ours).
    const BufRef acc = v == 0 ? recvAt(0) : scratchAt(0);
    if (v != 0) p.scratchBytes = bytes;
    BufRef held = sendAt(0);
    for (int mask = 1; mask < n; mask <<= 1) {
      pb.nextPhase();
      if (v & mask) {
        pb.send(t.actual(v - mask), held, bytes);
        break;
      }
      if (v + mask < n) {
        pb.recvReduce(t.actual(v + mask), acc, held, bytes);
        held = acc;
      }
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& binomialBroadcast() {
  static const BinomialBroadcast a;
  return a;
}
const Algorithm& binomialReduce() {
  static const BinomialReduce a;
  return a;
}

}  // namespace strata
