// Direct AllToAllv over registered windows: every rank copies its block of each peer's send
// buffer straight into its own output. strataAllToAllv gives a rank only its own counts and
// displacements, so the block's place in the peer's buffer (the peer's send displacement for
// this rank) comes from the exchange the runtime runs before planning (needsGroupCounts: every
// rank's send counts and displacements, CollArgs::groupSendCounts/groupSendDispls). A pull, so
// each rank writes only its own output; a synchronisation before (buffers ready) and after (no
// peer still reads this rank's input).
#include "algorithms/direct.h"
#include "base/dtype.h"

namespace strata {
namespace {

class DirectAllToAllv final : public direct::WindowAlgorithm {
 public:
  const char* name() const override { return "direct"; }
  const char* description() const override {
    return "windows: every rank copies its block of every peer's input, at the peer's "
           "displacement (exchanged first)";
  }
  CollType coll() const override { return CollType::kAllToAllv; }
  bool needsGroupCounts() const override { return true; }
  // Pinned only: measured 1.04-1.35x pairwise's time at 2 processes, 64 KiB-16 MiB
  // (docs/performance.md), the count exchange and the two synchronisations included.
  bool pinnedOnly(const CollArgs&, const CommShape&) const override { return true; }
  bool supports(const CollArgs& a, const CommShape& s) const override {
    // In place the blocks peers still read would be overwritten: the FIFO algorithms take it.
    return WindowAlgorithm::supports(a, s) && !a.inPlace;
  }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t es = dtypeSize(a.dtype);
    const auto n = static_cast<size_t>(s.nranks);
    const auto me = static_cast<size_t>(s.rank);
    // Without the exchange (pricing), this rank's own displacements stand in for the peers'.
    const bool exchanged = a.groupSendDispls.size() == n * n && a.groupSendCounts.size() == n * n;
    PlanBuilder pb = builderFor(p, a);
    if (s.nranks > 1) direct::syncAll(pb, s);
    for (size_t k = 0; k < n; ++k) {
      const size_t q = (me + k) % n;
      const size_t theirCount = exchanged ? a.groupSendCounts[q * n + me] : a.recvcounts[q];
      if (theirCount != a.recvcounts[q]) {
        return makeError(strataInvalidUsage,
                         "AllToAllv (direct): rank %zu sends %zu elements to rank %zu, which "
                         "expects %zu from it (mismatched counts between the ranks)",
                         q, theirCount, me, a.recvcounts[q]);
      }
      const size_t from = (exchanged ? a.groupSendDispls[q * n + me] : a.sdispls[me]) * es;
      const BufRef src = q == me ? sendAt(a.sdispls[me] * es)
                                 : ofRank(sendAt(from), static_cast<int>(q));
      pb.copy(src, recvAt(a.rdispls[q] * es), a.recvcounts[q] * es);
    }
    if (s.nranks > 1) direct::syncAll(pb, s);
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& directAllToAllv() {
  static const DirectAllToAllv a;
  return a;
}

}  // namespace strata
