// One-shot mesh AllGather: in a single phase every rank sends its block straight to every peer
// and receives every peer's block. One step of latency; on a full mesh (HCCS) the n-1 blocks
// travel on n-1 different links at once, so it takes α + S/B where a ring takes (n-1)(α + S/B).
#include "algorithms/algorithm.h"
#include "base/dtype.h"

namespace strata {
namespace {

class MeshAllGather final : public Algorithm {
 public:
  const char* name() const override { return "mesh"; }
  const char* description() const override {
    return "every rank sends its block straight to every peer in one step (full meshes)";
  }
  CollType coll() const override { return CollType::kAllGather; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int n = s.nranks;
    auto block = [&](int r) { return recvAt(static_cast<size_t>(r) * bytes); };
    // In place, the rank's own block already sits in the output and is sent from there.
    const BufRef mine = a.inPlace ? block(s.rank) : sendAt(0);
    PlanBuilder pb = builderFor(p, a);
    if (!a.inPlace) pb.copy(sendAt(0), block(s.rank), bytes);
    for (int k = 1; k < n; ++k) {
      const int to = (s.rank + k) % n;
      const int from = (s.rank - k + n) % n;
      pb.send(to, mine, bytes);
      pb.recv(from, block(from), bytes);
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& meshAllGather() {
  static const MeshAllGather a;
  return a;
}

}  // namespace strata
