// Pairwise-exchange AllToAll and AllToAllv: in step k each rank sends to rank+k and receives from
// rank-k, so every step is a perfect matching and no rank is a hotspot.
#include <algorithm>

#include "algorithms/algorithm.h"
#include "algorithms/patterns/ring.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::mod;

Status pairwisePlan(const CollArgs& a, const CommShape& s, Plan& p,
                    const std::vector<size_t>& scounts, const std::vector<size_t>& sdispls,
                    const std::vector<size_t>& rcounts, const std::vector<size_t>& rdispls) {
  const size_t es = dtypeSize(a.dtype);
  const int n = s.nranks;
  const int r = s.rank;
  auto at = [](size_t i) { return static_cast<size_t>(i); };
  PlanBuilder pb = builderFor(p, a);
  BufRef src{kSendBuf, 0};
  if (a.inPlace) {
    // Blocks are overwritten as they arrive, so the outgoing data is staged first.
    size_t extent = 0;
    for (int j = 0; j < n; ++j) extent = std::max(extent, sdispls[at(j)] + scounts[at(j)]);
    p.scratchBytes = extent * es;
    pb.copy(sendAt(0), scratchAt(0), extent * es);
    pb.nextPhase();
    src = scratchAt(0);
  }
  auto from = [&](size_t displ) { return BufRef{src.slot, src.offset + displ * es}; };
  pb.copy(from(sdispls[at(r)]), recvAt(rdispls[at(r)] * es), scounts[at(r)] * es);
  for (int k = 1; k < n; ++k) {
    pb.nextPhase();
    const size_t to = at(mod(r + k, n));
    const size_t fr = at(mod(r - k, n));
    pb.send(static_cast<int>(to), from(sdispls[to]), scounts[to] * es);
    pb.recv(static_cast<int>(fr), recvAt(rdispls[fr] * es), rcounts[fr] * es);
  }
  pb.finish();
  return Status::ok();
}

class PairwiseAllToAll final : public Algorithm {
 public:
  const char* name() const override { return "pairwise"; }
  const char* description() const override {
    return "step k sends to rank+k and receives from rank-k: n-1 perfect matchings";
  }
  CollType coll() const override { return CollType::kAllToAll; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    std::vector<size_t> counts(static_cast<size_t>(s.nranks), a.count);
    std::vector<size_t> displs(counts.size());
    for (size_t i = 0; i < displs.size(); ++i) displs[i] = i * a.count;
    return pairwisePlan(a, s, p, counts, displs, counts, displs);
  }
};

class PairwiseAllToAllv final : public Algorithm {
 public:
  const char* name() const override { return "pairwise"; }
  const char* description() const override {
    return "step k sends to rank+k and receives from rank-k, counts per peer";
  }
  CollType coll() const override { return CollType::kAllToAllv; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    return pairwisePlan(a, s, p, a.sendcounts, a.sdispls, a.recvcounts, a.rdispls);
  }
};

}  // namespace

const Algorithm& pairwiseAllToAll() {
  static const PairwiseAllToAll a;
  return a;
}
const Algorithm& pairwiseAllToAllv() {
  static const PairwiseAllToAllv a;
  return a;
}

}  // namespace strata
