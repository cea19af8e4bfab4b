// Direct ReduceScatter over the mesh: every rank sends block j of its input straight to rank j
// and reduces the n contributions to its own block locally. One step of latency and (n-1)/n of
// the input per rank on the wire, like the ring, but every pair of ranks talks at once: it wins
// where the topology is a full mesh (HCCS) and for small blocks.
#include "algorithms/algorithm.h"
#include "algorithms/mesh_exchange.h"
#include "base/dtype.h"

namespace strata {
namespace {

class MeshReduceScatter final : public Algorithm {
 public:
  const char* name() const override { return "mesh"; }
  const char* description() const override {
    return "every rank sends block j straight to rank j and reduces its n contributions "
           "locally: one step";
  }
  CollType coll() const override { return CollType::kReduceScatter; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    PlanBuilder pb = builderFor(p, a);
    if (s.nranks == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
      pb.finish();
      return Status::ok();
    }
    p.scratchBytes = static_cast<size_t>(s.nranks) * bytes;
    meshReduceScatter(
        pb, s.rank, s.nranks, [](int j) { return j; },
        [&](int j) { return sendAt(static_cast<size_t>(j) * bytes); }, [&](int) { return bytes; },
        bytes, 0, recvAt(0));
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& meshReduceScatter() {
  static const MeshReduceScatter a;
  return a;
}

}  // namespace strata
