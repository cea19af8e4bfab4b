// The flag path for small calls on shared memory: every rank copies its data into its flag
// slot in the transport's control segment, posts its flag and waits for every peer's, then
// builds its output from the peers' slots. One flag store and one load of each peer's slot per
// call (a single cache line for up to 56 bytes), no FIFO chunk and no second synchronisation:
// the slots alternate by call (plan.h), so no peer can still be reading a slot its owner
// rewrites. The caller's buffers need not lie in windows: only the flag slots are shared.
//  AllReduce: reduce every rank's slot, in rank order (bit-identical on every rank).
//  AllGather: copy every peer's slot into its block of the output.
//  ReduceScatter: reduce block `rank` of every rank's slot (the whole input rides in the slot).
//  Broadcast: copy the root's slot (the other ranks post an empty slot).
#include "algorithms/algorithm.h"
#include "base/dtype.h"

namespace strata {
namespace {

// The bytes one rank writes into its flag slot for this call.
size_t slotBytes(const CollArgs& a, int nranks) {
  const size_t bytes = a.count * dtypeSize(a.dtype);
  return a.coll == CollType::kReduceScatter ? bytes * static_cast<size_t>(nranks) : bytes;
}

// The cost model prices every flag plan (one flag round, the data through the control segment:
// scheduler/cost_model.h) but picks it only for windowed calls of up to this many bytes of slot
// data. Measured (docs/performance.md, small calls), 2 processes: the flag path takes 0.67x the
// time of direct_oneshot at 8 B and 0.81x at 64 B, but 1.24x at 512 B and 2.26x at 4 KiB, where
// the model, whose shared-memory α (2 µs) makes the direct plan's second synchronisation cost
// more than the slots' copies up to the slot's 4 KiB, would still pick it. Unregistered calls
// keep the FIFO algorithms: the flag path measured 1.07-1.34x oneshot's time there, while the
// model prices the two within a handshake of each other.
constexpr size_t kModelBytes = 256;

class FlagAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "flag"; }
  bool flagPath() const override { return true; }
  bool supports(const CollArgs& a, const CommShape& s) const override {
    return s.flagBytes > 0 && s.nranks > 1 && a.count > 0 && slotBytes(a, s.nranks) <= s.flagBytes;
  }
  bool pinnedOnly(const CollArgs& a, const CommShape& s) const override {
    return !(a.windowed && s.windows && slotBytes(a, s.nranks) <= kModelBytes);
  }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    PlanBuilder pb = builderFor(p, a);
    // This rank's data into its slot with its flag; every peer's flag.
    const BufRef src = source(a, s);
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int root = a.coll == CollType::kBroadcast ? a.root : -1;
    const OpId posted = src.slot < 0 ? pb.flagPost(sendAt(0), 0, bytes, root)
                                     : pb.flagPost(src, slotBytes(a, s.nranks), bytes, root);
    // Then the output from the slots: a phase of its own, or in this one after the one wait of
    // two ranks (a phase boundary costs as much as the rest of an 8-byte call).
    OpId waited = PlanBuilder::kNoOp;
    for (int k = 1; k < s.nranks; ++k)
      waited = pb.flagWait((s.rank + k) % s.nranks, bytes, root, {posted});
    if (s.nranks > 2) {
      pb.nextPhase();
      waited = PlanBuilder::kNoOp;
    }
    output(a, s, pb, waited);
    pb.finish();
    return Status::ok();
  }

 protected:
  // What this rank writes into its slot (slot < 0: nothing).
  virtual BufRef source(const CollArgs& a, const CommShape& s) const = 0;
  // The output from the slots, after `ready` (kNoOp: at the start of its phase).
  virtual void output(const CollArgs& a, const CommShape& s, PlanBuilder& pb, OpId ready) const = 0;
};

class FlagAllReduce final : public FlagAlgorithm {
 public:
  const char* description() const override {
    return "shm flags: every rank reduces all inputs from the flag slots (small calls)";
  }
  CollType coll() const override { return CollType::kAllReduce; }

 protected:
  BufRef source(const CollArgs&, const CommShape&) const override { return sendAt(0); }
  void output(const CollArgs& a, const CommShape& s, PlanBuilder& pb, OpId ready) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    // Two operands take the two-operand kernel (rank 0's first, as across ranks).
    if (s.nranks == 2)
      pb.reduceLocal(recvAt(0), ofRank(flagAt(0), 0), ofRank(flagAt(0), 1), bytes, {ready});
    else
      pb.reduceAcrossRanks(recvAt(0), flagAt(0), s.nranks, bytes, {ready});
  }
};

class FlagAllGather final : public FlagAlgorithm {
 public:
  const char* description() const override {
    return "shm flags: every rank copies each peer's block from its flag slot (small calls)";
  }
  CollType coll() const override { return CollType::kAllGather; }

 protected:
  BufRef source(const CollArgs& a, const CommShape& s) const override {
    // In place, the input is this rank's block of the output.
    return a.inPlace ? recvAt(static_cast<size_t>(s.rank) * a.count * dtypeSize(a.dtype))
                     : sendAt(0);
  }
  void output(const CollArgs& a, const CommShape& s, PlanBuilder& pb, OpId ready) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    for (int k = 1; k < s.nranks; ++k) {
      const int peer = (s.rank + k) % s.nranks;
      pb.copy(ofRank(flagAt(0), peer), recvAt(static_cast<size_t>(peer) * bytes), bytes, {ready});
    }
    if (!a.inPlace) pb.copy(sendAt(0), recvAt(static_cast<size_t>(s.rank) * bytes), bytes);
  }
};

class FlagReduceScatter final : public FlagAlgorithm {
 public:
  const char* description() const override {
    return "shm flags: every rank reduces its block of all inputs from the flag slots (small "
           "calls)";
  }
  CollType coll() const override { return CollType::kReduceScatter; }

 protected:
  BufRef source(const CollArgs&, const CommShape&) const override { return sendAt(0); }
  void output(const CollArgs& a, const CommShape& s, PlanBuilder& pb, OpId ready) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const BufRef block = flagAt(static_cast<size_t>(s.rank) * bytes);
    if (s.nranks == 2)
      pb.reduceLocal(recvAt(0), ofRank(block, 0), ofRank(block, 1), bytes, {ready});
    else
      pb.reduceAcrossRanks(recvAt(0), block, s.nranks, bytes, {ready});
  }
};

class FlagBroadcast final : public FlagAlgorithm {
 public:
  const char* description() const override {
    return "shm flags: every rank copies the root's flag slot (small calls)";
  }
  CollType coll() const override { return CollType::kBroadcast; }

 protected:
  BufRef source(const CollArgs& a, const CommShape& s) const override {
    if (s.rank != a.root) return BufRef{-1, 0};
    return a.inPlace ? recvAt(0) : sendAt(0);
  }
  void output(const CollArgs& a, const CommShape& s, PlanBuilder& pb, OpId ready) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    if (s.rank != a.root)
      pb.copy(ofRank(flagAt(0), a.root), recvAt(0), bytes, {ready});
    else if (!a.inPlace)
      pb.copy(sendAt(0), recvAt(0), bytes);
  }
};

}  // namespace

const Algorithm& flagAllReduce() {
  static const FlagAllReduce a;
  return a;
}

const Algorithm& flagAllGather() {
  static const FlagAllGather a;
  return a;
}

const Algorithm& flagReduceScatter() {
  static const FlagReduceScatter a;
  return a;
}

const Algorithm& flagBroadcast() {
  static const FlagBroadcast a;
  return a;
}

}  // namespace strata
