// Double-binary-tree Broadcast and Reduce: the message is cut in two halves, each pipelined in
// chunks down (Broadcast) or up (Reduce) its own binary tree over the ranks other than the root,
// and the root feeds (or drains) the top of both. Tree A places relative rank v (v = rank - root
// mod n, 1..n-1) at heap position v-1, tree B mirrors it at n-1-v, so most ranks that are leaves
// of one tree are inner ranks of the other and every rank's links carry about one half of the
// data each way. Depth log2 n instead of the chain's n-1, with the chain's pipelining.
//
// Two schedules of the same trees and chunks:
// - where forwarding runs (shared memory, networks), everything is one phase: each send names the
//   receive (or reductions) of the same chunk in `after`, so each chunk moves on as soon as it has
//   landed; the cost model prices each send on as a step of its own.
// - elsewhere (the sim, which times a phase as one step), global steps: in step s a rank at depth
//   d of a tree receives chunk s-d of that tree's half from its parent and sends chunk s-d-1 on to
//   its children (Reduce: the mirror, counted from the deepest level). A receive of step s needs
//   only its sender's step s to have begun, which needs only that sender's earlier steps, so the
//   two trees never wait on each other in a cycle, though a rank can be its peer's parent in one
//   tree and its child in the other (phases per chunk, numbered from each rank's own depth, would
//   deadlock there). The root streams every chunk to (or from) the two tops in one phase.
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
  bool inner(int t) const { return child(t, 0) >= 0; }
  // Depth of heap position p (the tops are at 0), this rank's in tree t, and the deepest.
  static int depthOf(int p) {
    int d = 0;
    while (p > 0) {
      p = (p - 1) / 2;
      ++d;
    }
    return d;
  }
  int depth(int t) const { return depthOf(posOf(t)); }
  int maxDepth() const { return depthOf(m() - 1); }
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
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const DoubleTree tr{s.nranks, a.root, mod(s.rank - a.root, s.nranks)};
    const Halves h = halvesOf(a, s);
    PlanBuilder pb = builderFor(p, a);
    if (s.nranks == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), a.count * dtypeSize(a.dtype));
    } else if (s.forwarding) {
      planTrees(pb, a, tr, h, std::max(h.chunks(0), h.chunks(1)), p);
    } else {
      planSteps(pb, a, tr, h, std::max(h.chunks(0), h.chunks(1)), p);
    }
    pb.finish();
    return Status::ok();
  }

 protected:
  // k: chunks of the longer half.
  virtual void planTrees(PlanBuilder& pb, const CollArgs& a, const DoubleTree& tr, const Halves& h,
                         size_t k, Plan& p) const = 0;
  // The same data flow in global steps, without forwarding (see the top of the file).
  virtual void planSteps(PlanBuilder& pb, const CollArgs& a, const DoubleTree& tr, const Halves& h,
                         size_t k, Plan& p) const = 0;
};

// Chunk j of a tree, if it exists (0 <= j < k) and holds bytes: the stepped schedules skip the
// empty chunks of a short half on both ends of every link alike.
bool hasChunk(const Halves& h, int t, long long j, size_t k) {
  return j >= 0 && static_cast<size_t>(j) < k && h.len(t, static_cast<size_t>(j)) > 0;
}

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

  void planSteps(PlanBuilder& pb, const CollArgs& a, const DoubleTree& tr, const Halves& h,
                 size_t k, Plan&) const override {
    if (tr.v == 0) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), a.count * dtypeSize(a.dtype));
      for (size_t j = 0; j < k; ++j)
        for (int t = 0; t < 2; ++t)
          if (hasChunk(h, t, static_cast<long long>(j), k))
            pb.send(tr.rankOf(tr.relOf(t, 0)), sendAt(h.at(t, j)), h.len(t, j));
      return;
    }
    // Step s: chunk s-d from the parent, chunk s-d-1 on to the children, in each tree.
    const long long last = static_cast<long long>(k) + tr.maxDepth();
    for (long long s = 0; s <= last; ++s) {
      pb.nextPhase();
      for (int t = 0; t < 2; ++t) {
        const long long j = s - tr.depth(t);
        if (hasChunk(h, t, j, k))
          pb.recv(tr.parent(t), recvAt(h.at(t, static_cast<size_t>(j))),
                  h.len(t, static_cast<size_t>(j)));
      }
      for (int t = 0; t < 2; ++t) {
        const long long j = s - tr.depth(t) - 1;
        if (!hasChunk(h, t, j, k)) continue;
        for (int c = 0; c < 2; ++c)
          if (const int to = tr.child(t, c); to >= 0)
            pb.send(to, recvAt(h.at(t, static_cast<size_t>(j))), h.len(t, static_cast<size_t>(j)));
      }
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

  void planSteps(PlanBuilder& pb, const CollArgs& a, const DoubleTree& tr, const Halves& h,
                 size_t k, Plan& p) const override {
    if (tr.v == 0) {
      for (size_t j = 0; j < k; ++j)
        for (int t = 0; t < 2; ++t)
          if (hasChunk(h, t, static_cast<long long>(j), k))
            pb.recvReduce(tr.rankOf(tr.relOf(t, 0)), recvAt(h.at(t, j)), sendAt(h.at(t, j)),
                          h.len(t, j));
      return;
    }
    // Counted from the deepest level e = D - d steps up: step s sends chunk s-e to the parent and
    // reduces chunk s-e+1 of the children (which send it in their step s).
    p.scratchBytes = a.count * dtypeSize(a.dtype);
    const int deepest = tr.maxDepth();
    const long long last = static_cast<long long>(k) + deepest;
    for (long long s = 0; s <= last; ++s) {
      pb.nextPhase();
      for (int t = 0; t < 2; ++t) {
        const long long e = deepest - tr.depth(t);
        const long long up = s - e;
        if (hasChunk(h, t, up, k)) {
          const size_t j = static_cast<size_t>(up);
          pb.send(tr.parent(t), tr.inner(t) ? scratchAt(h.at(t, j)) : sendAt(h.at(t, j)),
                  h.len(t, j));
        }
        const long long in = s - e + 1;
        if (!tr.inner(t) || !hasChunk(h, t, in, k)) continue;
        const size_t j = static_cast<size_t>(in);
        BufRef held = sendAt(h.at(t, j));
        OpId prev = PlanBuilder::kNoOp;
        for (int c = 0; c < 2; ++c) {
          const int from = tr.child(t, c);
          if (from < 0) continue;
          prev = pb.recvReduce(from, scratchAt(h.at(t, j)), held, h.len(t, j), false, {prev});
          held = scratchAt(h.at(t, j));
        }
      }
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
