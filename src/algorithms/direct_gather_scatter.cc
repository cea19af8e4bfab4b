// Direct Gather and Scatter: one step. Gather: every rank sends its block straight to the root,
// which receives all n-1 blocks at once into their places. Scatter: the root sends block r
// straight to rank r. The root's link carries all (n-1) blocks; on a full mesh (HCCS) they
// travel on n-1 links at once.
#include "algorithms/algorithm.h"
#include "base/dtype.h"

namespace strata {
namespace {

class DirectGather final : public Algorithm {
 public:
  const char* name() const override { return "direct"; }
  const char* description() const override {
    return "every rank sends its block straight to the root in one step";
  }
  CollType coll() const override { return CollType::kGather; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    auto block = [&](int r) { return recvAt(static_cast<size_t>(r) * bytes); };
    PlanBuilder pb = builderFor(p, a);
    if (s.rank != a.root) {
      pb.send(a.root, sendAt(0), bytes);
    } else {
      if (!a.inPlace) pb.copy(sendAt(0), block(s.rank), bytes);
      for (int k = 1; k < s.nranks; ++k) {
        const int from = (s.rank + k) % s.nranks;
        pb.recv(from, block(from), bytes);
      }
    }
    pb.finish();
    return Status::ok();
  }
};

class DirectScatter final : public Algorithm {
 public:
  const char* name() const override { return "direct"; }
  const char* description() const override {
    return "the root sends every rank its block straight in one step";
  }
  CollType coll() const override { return CollType::kScatter; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    auto block = [&](int r) { return sendAt(static_cast<size_t>(r) * bytes); };
    PlanBuilder pb = builderFor(p, a);
    if (s.rank != a.root) {
      pb.recv(a.root, recvAt(0), bytes);
    } else {
      for (int k = 1; k < s.nranks; ++k) {
        const int to = (s.rank + k) % s.nranks;
        pb.send(to, block(to), bytes);
      }
      if (!a.inPlace) pb.copy(block(s.rank), recvAt(0), bytes);
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& directGather() {
  static const DirectGather a;
  return a;
}
const Algorithm& directScatter() {
  static const DirectScatter a;
  return a;
}

}  // namespace strata
