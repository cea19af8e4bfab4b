// Direct AllReduce over registered windows.
//  one-shot: every rank reduces all n inputs, read straight from the peers' send buffers, into
//    its own output (n x the bytes read, one pass);
//  two-shot: every rank reduces its block of all n inputs into its own output (a direct
//    ReduceScatter), then copies the other blocks from their owners' outputs (a direct
//    AllGather): about 2 x the bytes read, one more synchronisation.
// Both reduce in rank order, so every rank computes bit-identical results, and both end with a
// synchronisation so no peer still reads this rank's buffers once the call returns.
#include "algorithms/direct.h"
#include "algorithms/patterns/blocks.h"
#include "base/dtype.h"

namespace strata {
namespace {

class DirectOneShotAllReduce final : public direct::WindowAlgorithm {
 public:
  const char* name() const override { return "direct_oneshot"; }
  const char* description() const override {
    return "windows: every rank reduces all inputs read from the peers' buffers";
  }
  CollType coll() const override { return CollType::kAllReduce; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    PlanBuilder pb = builderFor(p, a);
    if (direct::planAlone(pb, a, s, bytes)) return Status::ok();
    direct::syncAll(pb, s);
    // In place, the output is the input peers are still reading: reduce aside, copy after.
    const BufRef out = a.inPlace ? scratchAt(0) : recvAt(0);
    if (a.inPlace) p.scratchBytes = bytes;
    pb.reduceAcrossRanks(out, sendAt(0), s.nranks, bytes);
    direct::syncAll(pb, s);
    if (a.inPlace) pb.copy(scratchAt(0), recvAt(0), bytes);
    pb.finish();
    return Status::ok();
  }
};

class DirectTwoShotAllReduce final : public direct::WindowAlgorithm {
 public:
  const char* name() const override { return "direct_twoshot"; }
  const char* description() const override {
    return "windows: direct ReduceScatter of each rank's block, then direct AllGather";
  }
  CollType coll() const override { return CollType::kAllReduce; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t es = dtypeSize(a.dtype);
    PlanBuilder pb = builderFor(p, a);
    if (direct::planAlone(pb, a, s, a.count * es)) return Status::ok();
    direct::syncAll(pb, s);
    // Only this rank reads block `rank` of any buffer during the reduction, so writing it in
    // place is safe.
    const patterns::Block mine = patterns::blockOf(a.count, s.nranks, s.rank);
    pb.reduceAcrossRanks(recvAt(mine.offset * es), sendAt(mine.offset * es), s.nranks,
                         mine.count * es);
    direct::syncAll(pb, s);
    for (int k = 1; k < s.nranks; ++k) {
      const int owner = (s.rank + k) % s.nranks;
      const patterns::Block b = patterns::blockOf(a.count, s.nranks, owner);
      pb.copy(ofRank(recvAt(b.offset * es), owner), recvAt(b.offset * es), b.count * es);
    }
    direct::syncAll(pb, s);
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& directOneShotAllReduce() {
  static const DirectOneShotAllReduce a;
  return a;
}

const Algorithm& directTwoShotAllReduce() {
  static const DirectTwoShotAllReduce a;
  return a;
}

}  // namespace strata
