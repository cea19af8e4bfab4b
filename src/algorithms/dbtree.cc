// Double-binary-tree Broadcast and Reduce: the message is cut in two halves, each pipelined in
// chunks down (Broadcast) or up (Reduce) its own binary tree over the ranks other than the root,
// and the root feeds (or drains) the top of both. Tree A places relative rank v (v = rank - root
// mod n, 1..n-1) at heap position v-1, tree B mirrors it at n-1-v, so most ranks that are leaves
// of one tree are inner ranks of the other and every rank's links carry about one half of the
// data each way. Depth log2 n instead of the chain's n-1, with the chain's pipelining.
//
// Everything is one phase: each send names the receive (or reductions) of the same chunk in
// `after`, so the two trees never wait for each other (a rank can be its peer's parent in one
// tree and its child in the other; in phases per chunk the two would deadlock). Transports that
// time a phase as one step (the sim) cannot time that store-and-forward, so, like the other
// forwarding algorithms, it runs where forwarding runs as it behaves (shared memory, networks);
// the cost model prices each send on as a step of its own.
#include <algorithm>

#include "algorithms/algorithm.h"
#include "algorithms/patterns/blocks.h"
#include "algorithms/patterns/ring.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::chunksFor;
using patterns::mod;

// One rank's place in the two trees. Heap positions 0..m-1 (m = n-1); position 0 is fed by the
// root (relative rank 0).
struct DoubleTree {
  int n, root, v;
  int m() const { return n - 1; }
  // Relative rank of heap position p in tree t (0: A, 1: B), and back.
  int relOf(int t, int p) const { return t == 0 ? p + 1 : n - 1 - p; }
  int posOf(int t) const { return t == 0 ? v - 1 : n - 1 - v; }
  int rankOf(int rel) const { return mod(rel + root, n); }
  // The rank this one hears from (or reports to) in tree t: the root for position 0.
  int parent(int t) const {
    const int p = posOf(t);
    return p == 0 ? root : rankOf(relOf(t, (p - 1) / 2));
  }
  // Its children in tree t (-1 where there is none).
  int child(int t, int c) const {
    const int q = 2 * posOf(t) + 1 + c;
    return q < m() ? rankOf(relOf(t, q)) : -1;
  }
};

// Half t of the message, cut into chunks of about `chunk` bytes: [offset, offset + len).
struct Halves {
  size_t half[2][2];  // {offset, bytes} of each half
  size_t chunk;
  size_t chunks(int t) const { return chunksFor(half[t][1], chunk); }
  size_t at(int t, size_t j) const { return half[t][0] + j * chunk; }
  size_t len(int t, size_t j) const {
    const size_t off = j * chunk;
    return off >= half[t][1] ? 0 : std::min(chunk, half[t][1] - off);
  }
};

Halves halvesOf(const CollArgs& a, const CommShape& s) {
  const size_t es = dtypeSize(a.dtype);
  const patterns::Block first = patterns::blockOf(a.count, 2, 0);
  Halves h{};
  h.half[0][0] = 0;
  h.half[0][1] = first.count * es;
  h.half[1][0] = first.count * es;
  h.half[1][1] = (a.count - first.count) * es;
  h.chunk = std::max(es, s.chunkBytes / es * es);
  return h;
}

// Both trees' shape, the halves and their chunks, and one rank alone; each collective plans the
// data flow.
class DoubleTreeAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "dbtree"; }
  bool supports(const CollArgs&, const CommShape& s) const override { return s.forwarding; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const DoubleTree tr{s.nranks, a.root, mod(s.rank - a.root, s.nranks)};
    const Halves h = halvesOf(a, s);
    PlanBuilder pb = builderFor(p, a);
    if (s.nranks == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), a.count * dtypeSize(a.dtype));
    } else {
      planTrees(pb, a, tr, h, std::max(h.chunks(0), h.chunks(1)), p);
    }
    pb.finish();
    return Status::ok();
  }

 protected:
  // k: chunks of the longer half.
  virtual void planTrees(PlanBuilder& pb, const CollArgs& a, const DoubleTree& tr, const Halves& h,
                         size_t k, Plan& p) const = 0;
};

class DoubleTreeBroadcast final : public DoubleTreeAlgorithm {
 public:
  const char* description() const override {
    return "two binary trees, each pipelining half the message from the root: depth log2(n), "
           "every link busy";
  }
  CollType coll() const override { return CollType::kBroadcast; }

 protected:
  void planTrees(PlanBuilder& pb, const CollArgs& a, const DoubleTree& tr, const Halves& h,
                 size_t k, Plan&) const override {
    if (tr.v == 0) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), a.count * dtypeSize(a.dtype));
      // Chunk j of both halves, in the order the tops receive them when one rank tops both.
      for (size_t j = 0; j < k; ++j)
        for (int t = 0; t < 2; ++t)
          pb.send(tr.rankOf(tr.relOf(t, 0)), sendAt(h.at(t, j)), h.len(t, j));
      return;
    }
    for (size_t j = 0; j < k; ++j) {
      OpId got[2];
      for (int t = 0; t < 2; ++t) got[t] = pb.recv(tr.parent(t), recvAt(h.at(t, j)), h.len(t, j));
      for (int t = 0; t < 2; ++t)
        for (int c = 0; c < 2; ++c)
          if (const int to = tr.child(t, c); to >= 0)
            pb.send(to, recvAt(h.at(t, j)), h.len(t, j), {got[t]});
    }
  }
};

class DoubleTreeReduce final : public DoubleTreeAlgorithm {
 public:
  const char* description() const override {
    return "two binary trees, each reducing half the message into the root, pipelined: depth "
           "log2(n), every link busy";
  }
  CollType coll() const override { return CollType::kReduce; }

 protected:
  void planTrees(PlanBuilder& pb, const CollArgs& a, const DoubleTree& tr, const Halves& h,
                 size_t k, Plan& p) const override {
    if (tr.v == 0) {
      // The tops' partial sums, chunk by chunk in the order they send them, into the output.
      for (size_t j = 0; j < k; ++j)
        for (int t = 0; t < 2; ++t)
          pb.recvReduce(tr.rankOf(tr.relOf(t, 0)), recvAt(h.at(t, j)), sendAt(h.at(t, j)),
                        h.len(t, j));
      return;
    }
    // Partial sums in scratch (an inner rank's recvbuff is not ours): the input reduced with
    // each child's partial sum of the chunk in turn, then sent up.
    p.scratchBytes = a.count * dtypeSize(a.dtype);
    for (size_t j = 0; j < k; ++j)
      for (int t = 0; t < 2; ++t) {
        BufRef held = sendAt(h.at(t, j));
        OpId last = PlanBuilder::kNoOp;
        for (int c = 0; c < 2; ++c) {
          const int from = tr.child(t, c);
          if (from < 0) continue;
          last = pb.recvReduce(from, scratchAt(h.at(t, j)), held, h.len(t, j), false, {last});
          held = scratchAt(h.at(t, j));
        }
        pb.send(tr.parent(t), held, h.len(t, j), {last});
      }
  }
};

}  // namespace

const Algorithm& doubleTreeBroadcast() {
  static const DoubleTreeBroadcast a;
  return a;
}
const Algorithm& doubleTreeReduce() {
  static const DoubleTreeReduce a;
  return a;
}

}  // namespace strata
