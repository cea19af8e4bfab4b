// Direct ReduceScatter, Broadcast and AllToAll over registered windows.
//  ReduceScatter: every rank reduces its block of all n inputs, read from the peers' send
//    buffers in rank order, into its output.
//  Broadcast: every rank copies the root's output (filled from the root's input first) into
//    its own, then tells the root it is done reading.
//  AllToAll: every rank copies block `rank` of each peer's input into block `peer` of its
//    output, or, the put form, writes block `peer` of its input into block `rank` of the peer's
//    output.
#include "algorithms/direct.h"
#include "base/dtype.h"

namespace strata {
namespace {

class DirectReduceScatter final : public direct::WindowAlgorithm {
 public:
  const char* name() const override { return "direct"; }
  const char* description() const override {
    return "windows: every rank reduces its block of all inputs read from the peers' buffers";
  }
  CollType coll() const override { return CollType::kReduceScatter; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const direct::Blocks b = direct::blocksOf(a);
    PlanBuilder pb = builderFor(p, a);
    if (direct::planAlone(pb, a, s, b.bytes)) return Status::ok();
    direct::syncAll(pb, s);
    // In place the output is this rank's own block, which no peer reads.
    pb.reduceAcrossRanks(recvAt(0), sendAt(b.at(s.rank)), s.nranks, b.bytes);
    direct::syncAll(pb, s);
    pb.finish();
    return Status::ok();
  }
};

class DirectBroadcast final : public direct::WindowAlgorithm {
 public:
  const char* name() const override { return "direct"; }
  const char* description() const override {
    return "windows: every rank copies the root's buffer";
  }
  CollType coll() const override { return CollType::kBroadcast; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    PlanBuilder pb = builderFor(p, a);
    if (s.rank == a.root) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
      pb.nextPhase();
      for (int k = 1; k < s.nranks; ++k) pb.signal((s.rank + k) % s.nranks, direct::kChannel);
      pb.nextPhase();
      for (int k = 1; k < s.nranks; ++k) pb.wait((s.rank + k) % s.nranks, direct::kChannel);
    } else {
      pb.wait(a.root, direct::kChannel, bytes);
      pb.nextPhase();
      pb.copy(ofRank(recvAt(0), a.root), recvAt(0), bytes);
      pb.nextPhase();
      pb.signal(a.root, direct::kChannel);
    }
    pb.finish();
    return Status::ok();
  }
};

// AllToAll in either form. Pull: every rank copies block `rank` of each peer's input into block
// `peer` of its output; in place through scratch, since peers still read the blocks it would
// overwrite. Push: every rank writes block `peer` of its input straight into block `rank` of the
// peer's output; in place, that block of the peer's output is the peer's own input, so each rank
// first copies its input aside. Push is pinned only (docs/performance.md, windows: AllToAll).
class DirectAllToAll final : public direct::WindowAlgorithm {
 public:
  explicit DirectAllToAll(bool push) : push_(push) {}
  const char* name() const override { return push_ ? "direct_push" : "direct"; }
  const char* description() const override {
    return push_ ? "windows: every rank writes each peer's block into that peer's output"
                 : "windows: every rank copies its block of every peer's input";
  }
  CollType coll() const override { return CollType::kAllToAll; }
  bool pinnedOnly(const CollArgs&, const CommShape&) const override { return push_; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const direct::Blocks b = direct::blocksOf(a);
    const size_t mine = b.at(s.rank);
    PlanBuilder pb = builderFor(p, a);
    if (direct::planAlone(pb, a, s, b.bytes)) return Status::ok();
    if (a.inPlace) {
      p.scratchBytes = b.at(s.nranks);
      // Pushed: before any peer may write into it.
      if (push_) pb.copy(recvAt(0), scratchAt(0), b.at(s.nranks));
    }
    direct::syncAll(pb, s);
    for (int k = 0; k < s.nranks; ++k) {
      const int peer = (s.rank + k) % s.nranks;
      const size_t theirs = b.at(peer);
      if (peer == s.rank) {
        if (!a.inPlace) pb.copy(sendAt(mine), recvAt(mine), b.bytes);  // in place it stays
      } else if (push_) {
        pb.copy(a.inPlace ? scratchAt(theirs) : sendAt(theirs), ofRank(recvAt(mine), peer),
                b.bytes);
      } else {
        pb.copy(ofRank(sendAt(mine), peer), a.inPlace ? scratchAt(theirs) : recvAt(theirs),
                b.bytes);
      }
    }
    direct::syncAll(pb, s);
    if (a.inPlace && !push_) {
      for (int peer = 0; peer < s.nranks; ++peer)
        if (peer != s.rank) pb.copy(scratchAt(b.at(peer)), recvAt(b.at(peer)), b.bytes);
    }
    pb.finish();
    return Status::ok();
  }

 private:
  bool push_;
};

}  // namespace

const Algorithm& directReduceScatter() {
  static const DirectReduceScatter a;
  return a;
}

const Algorithm& directBroadcast() {
  static const DirectBroadcast a;
  return a;
}

const Algorithm& directAllToAll() {
  static const DirectAllToAll a(false);
  return a;
}

const Algorithm& directPushAllToAll() {
  static const DirectAllToAll a(true);
  return a;
}

}  // namespace strata
