// Direct ReduceScatter, Broadcast and AllToAll over registered windows.
//  ReduceScatter: every rank reduces its block of all n inputs, read from the peers' send
//    buffers in rank order, into its output.
//  Broadcast: every rank copies the root's output (filled from the root's input first) into
//    its own, then tells the root it is done reading.
//  AllToAll: every rank copies block `rank` of each peer's input into block `peer` of its
//    output (in place through scratch, since peers still read the blocks it would overwrite);
//    or, the put form, writes block `peer` of its input into block `rank` of the peer's output.
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
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const size_t mine = static_cast<size_t>(s.rank) * bytes;
    PlanBuilder pb = builderFor(p, a);
    if (direct::planAlone(pb, a, s, bytes)) return Status::ok();
    direct::syncAll(pb, s);
    // In place the output is this rank's own block, which no peer reads.
    pb.reduceAcrossRanks(recvAt(0), sendAt(mine), s.nranks, bytes);
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

class DirectAllToAll final : public direct::WindowAlgorithm {
 public:
  const char* name() const override { return "direct"; }
  const char* description() const override {
    return "windows: every rank copies its block of every peer's input";
  }
  CollType coll() const override { return CollType::kAllToAll; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const size_t mine = static_cast<size_t>(s.rank) * bytes;
    const size_t total = static_cast<size_t>(s.nranks) * bytes;
    PlanBuilder pb = builderFor(p, a);
    if (direct::planAlone(pb, a, s, bytes)) return Status::ok();
    if (a.inPlace) p.scratchBytes = total;
    auto out = [&](size_t off) { return a.inPlace ? scratchAt(off) : recvAt(off); };
    direct::syncAll(pb, s);
    for (int k = 0; k < s.nranks; ++k) {
      const int peer = (s.rank + k) % s.nranks;
      const size_t theirs = static_cast<size_t>(peer) * bytes;
      if (peer == s.rank) {
        if (a.inPlace) continue;  // own block stays where it is
        pb.copy(sendAt(mine), recvAt(mine), bytes);
      } else {
        pb.copy(ofRank(sendAt(mine), peer), out(theirs), bytes);
      }
    }
    direct::syncAll(pb, s);
    if (a.inPlace) {
      for (int peer = 0; peer < s.nranks; ++peer) {
        if (peer == s.rank) continue;
        const size_t theirs = static_cast<size_t>(peer) * bytes;
        pb.copy(scratchAt(theirs), recvAt(theirs), bytes);
      }
    }
    pb.finish();
    return Status::ok();
  }
};

// The put form: every rank writes block `peer` of its input straight into block `rank` of the
// peer's output. In place, that block of the peer's output is the peer's own input, so each rank
// first copies its input aside. Pinned only (docs/performance.md, windows: AllToAll).
class DirectPushAllToAll final : public direct::WindowAlgorithm {
 public:
  const char* name() const override { return "direct_push"; }
  const char* description() const override {
    return "windows: every rank writes each peer's block into that peer's output";
  }
  CollType coll() const override { return CollType::kAllToAll; }
  bool pinnedOnly(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const size_t mine = static_cast<size_t>(s.rank) * bytes;
    const size_t total = static_cast<size_t>(s.nranks) * bytes;
    PlanBuilder pb = builderFor(p, a);
    if (direct::planAlone(pb, a, s, bytes)) return Status::ok();
    if (a.inPlace) {
      p.scratchBytes = total;
      pb.copy(recvAt(0), scratchAt(0), total);  // before any peer may write into it
    }
    auto in = [&](size_t off) { return a.inPlace ? scratchAt(off) : sendAt(off); };
    direct::syncAll(pb, s);
    for (int k = 0; k < s.nranks; ++k) {
      const int peer = (s.rank + k) % s.nranks;
      const size_t theirs = static_cast<size_t>(peer) * bytes;
      if (peer == s.rank) {
        if (!a.inPlace) pb.copy(sendAt(mine), recvAt(mine), bytes);
      } else {
        pb.copy(in(theirs), ofRank(recvAt(mine), peer), bytes);
      }
    }
    direct::syncAll(pb, s);
    pb.finish();
    return Status::ok();
  }
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
  static const DirectAllToAll a;
  return a;
}

const Algorithm& directPushAllToAll() {
  static const DirectPushAllToAll a;
  return a;
}

}  // namespace strata
