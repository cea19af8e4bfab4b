// Binomial-tree Gather and Scatter: ceil(log2 n) rounds over a tree of ranks relative to the root
// (patterns/binomial_tree.h). Gather runs leaves-first: in round m every rank whose subtree is
// complete sends it, packed in relative order in scratch, to its parent, which receives it next
// to its own; Scatter runs the same tree root-first, each rank forwarding its children's
// subtrees. Every rank but the root moves its subtree once, so the root's link carries
// log2(n) messages instead of n-1: fewer steps than `direct` for small blocks, the same
// bytes into the root. The root's buffer is in actual rank order, so transfers to and from it
// split where the actual ranks wrap.
#include "algorithms/algorithm.h"
#include "algorithms/patterns/binomial_tree.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::BinomialTree;

// One walk of the tree for both: Gather moves data towards the root (rounds from the leaves up,
// a rank's own block placed first), Scatter away from it (rounds from the root down, a rank's
// own block taken last). A rank's block is Gather's sendbuff and Scatter's recvbuff; the root's
// nranks blocks are Gather's recvbuff and Scatter's sendbuff.
Status planTree(const CollArgs& a, const CommShape& s, Plan& p, bool towardsRoot) {
  const size_t bytes = a.count * dtypeSize(a.dtype);
  const BinomialTree t{s.rank, s.nranks, a.root};
  const int v = t.relative();
  const int sub = t.subtree(v);
  const BufRef block = towardsRoot ? sendAt(0) : recvAt(0);
  auto rootBlock = [&](int w) {
    const size_t at = static_cast<size_t>(t.actual(w)) * bytes;
    return towardsRoot ? recvAt(at) : sendAt(at);
  };
  auto packed = [&](int w) { return scratchAt(static_cast<size_t>(w - v) * bytes); };
  // A leaf moves its block where it is; an inner rank packs its subtree in scratch.
  const BufRef held = sub > 1 ? packed(v) : block;
  if (v != 0 && sub > 1) p.scratchBytes = static_cast<size_t>(sub) * bytes;
  PlanBuilder pb = builderFor(p, a);
  // Gathering, a rank sends to its parent and receives from its children; scattering, the
  // reverse.
  auto withParent = [&](int peer, BufRef at, size_t n) {
    if (towardsRoot)
      pb.send(peer, at, n);
    else
      pb.recv(peer, at, n);
  };
  auto withChild = [&](int peer, BufRef at, size_t n) {
    if (towardsRoot)
      pb.recv(peer, at, n);
    else
      pb.send(peer, at, n);
  };
  // This rank's own block between the user buffer and where the tree holds it.
  auto copyOwn = [&](BufRef there) {
    if (towardsRoot)
      pb.copy(block, there, bytes);
    else
      pb.copy(there, block, bytes);
  };
  auto ownBlock = [&] {
    if (v == 0) {
      if (!a.inPlace) copyOwn(rootBlock(0));
    } else if (sub > 1) {
      copyOwn(held);
    }
  };
  if (towardsRoot) ownBlock();
  const int top = t.span() / 2;  // the rounds' masks are the powers of two up to top
  for (int m = 1; m <= top; m <<= 1) {
    const int mask = towardsRoot ? m : top / m;
    pb.nextPhase();
    if (v % (2 * mask) == mask) {  // this round links this rank and its parent
      const int parent = v - mask;
      if (parent != 0) {
        withParent(t.actual(parent), held, static_cast<size_t>(sub) * bytes);
      } else {
        for (auto [lo, hi] : t.actualPieces(v, v + sub))
          withParent(a.root, {held.slot, held.offset + static_cast<size_t>(lo - v) * bytes},
                     static_cast<size_t>(hi - lo) * bytes);
      }
      if (towardsRoot) break;  // its subtree is delivered: nothing is left to do
      continue;
    }
    if (v % (2 * mask) != 0) continue;  // scattering: not yet holding data
    const int child = v + mask;
    if (child >= s.nranks) continue;
    const int csz = t.subtree(child);
    if (v == 0) {
      for (auto [lo, hi] : t.actualPieces(child, child + csz))
        withChild(t.actual(child), rootBlock(lo), static_cast<size_t>(hi - lo) * bytes);
    } else {
      withChild(t.actual(child), packed(child), static_cast<size_t>(csz) * bytes);
    }
  }
  if (!towardsRoot) {
    pb.nextPhase();
    ownBlock();
  }
  pb.finish();
  return Status::ok();
}

class BinomialGather final : public Algorithm {
 public:
  const char* name() const override { return "binomial"; }
  const char* description() const override {
    return "a binomial tree into the root, subtrees packed at inner ranks: log2(n) steps";
  }
  CollType coll() const override { return CollType::kGather; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    return planTree(a, s, p, /*towardsRoot=*/true);
  }
};

class BinomialScatter final : public Algorithm {
 public:
  const char* name() const override { return "binomial"; }
  const char* description() const override {
    return "a binomial tree from the root, subtrees forwarded by inner ranks: log2(n) steps";
  }
  CollType coll() const override { return CollType::kScatter; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    return planTree(a, s, p, /*towardsRoot=*/false);
  }
};

}  // namespace

const Algorithm& binomialGather() {
  static const BinomialGather a;
  return a;
}
const Algorithm& binomialScatter() {
  static const BinomialScatter a;
  return a;
}

}  // namespace strata
