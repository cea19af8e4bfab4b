// Direct AllGather over registered windows: pull (every rank copies each peer's block straight
// from the peer's send buffer into its own output) or push (every rank writes its block into
// every peer's output). One copy per byte either way, against two through a FIFO; a
// synchronisation before (buffers ready) and after (no one still reads or writes them).
#include "algorithms/direct.h"

namespace strata {
namespace {

class DirectAllGather final : public direct::WindowAlgorithm {
 public:
  explicit DirectAllGather(bool push) : push_(push) {}
  const char* name() const override { return push_ ? "direct_push" : "direct_pull"; }
  const char* description() const override {
    return push_ ? "windows: every rank writes its block into every peer's output"
                 : "windows: every rank reads every peer's block from its input";
  }
  CollType coll() const override { return CollType::kAllGather; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const direct::Blocks b = direct::blocksOf(a);
    const size_t mine = b.at(s.rank);
    PlanBuilder pb = builderFor(p, a);
    if (s.nranks > 1) direct::syncAll(pb, s);
    for (int k = 1; k < s.nranks; ++k) {
      const int peer = (s.rank + k) % s.nranks;
      const size_t theirs = b.at(peer);
      // In place, a peer's input is its block of its own output: only the receive buffer sits
      // at the same offset on every rank.
      const BufRef input = a.inPlace ? ofRank(recvAt(theirs), peer) : ofRank(sendAt(0), peer);
      if (push_)
        pb.copy(sendAt(0), ofRank(recvAt(mine), peer), b.bytes);
      else
        pb.copy(input, recvAt(theirs), b.bytes);
    }
    if (!a.inPlace) pb.copy(sendAt(0), recvAt(mine), b.bytes);
    if (s.nranks > 1) direct::syncAll(pb, s);
    pb.finish();
    return Status::ok();
  }

 private:
  bool push_;
};

}  // namespace

const Algorithm& directPullAllGather() {
  static const DirectAllGather a(false);
  return a;
}

const Algorithm& directPushAllGather() {
  static const DirectAllGather a(true);
  return a;
}

}  // namespace strata
