// Two-shot AllReduce over the mesh: a direct ReduceScatter (each rank owns block r of the
// output, reduced from the n contributions in rank order), then a direct AllGather of the owned
// blocks. Two steps of latency and 2(n-1)/n of the data per rank on the wire: between one-shot
// (one step, n-1 times the data) and the ring (2(n-1) steps).
#include "algorithms/algorithm.h"
#include "algorithms/mesh_exchange.h"
#include "algorithms/patterns/blocks.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::Block;
using patterns::blockOf;

class TwoShotAllReduce final : public Algorithm {
 public:
  const char* name() const override { return "twoshot"; }
  const char* description() const override {
    return "direct ReduceScatter over the mesh (block r reduced on rank r), then direct "
           "AllGather of the reduced blocks: two steps";
  }
  CollType coll() const override { return CollType::kAllReduce; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t es = dtypeSize(a.dtype);
    const int n = s.nranks, r = s.rank;
    PlanBuilder pb = builderFor(p, a);
    if (n == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), a.count * es);
      pb.finish();
      return Status::ok();
    }
    auto blk = [&](int j) { return blockOf(a.count, n, j); };
    auto len = [&](int j) { return blk(j).count * es; };
    auto out = [&](int j) { return recvAt(blk(j).offset * es); };
    // The largest block is block 0. In place, the inputs are read (sent and copied into the
    // slots) in the first step and the outputs written only after it.
    const size_t slotBytes = len(0);
    p.scratchBytes = static_cast<size_t>(n) * slotBytes;
    const OpId reduced = meshReduceScatter(
        pb, r, n, [](int j) { return j; }, [&](int j) { return sendAt(blk(j).offset * es); }, len,
        slotBytes, 0, out(r));
    for (int k = 1; k < n; ++k) {
      const int to = patterns::mod(r + k, n), from = patterns::mod(r - k, n);
      pb.send(to, out(r), len(r), {reduced});
      pb.recv(from, out(from), len(from));
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& twoShotAllReduce() {
  static const TwoShotAllReduce a;
  return a;
}

}  // namespace strata
