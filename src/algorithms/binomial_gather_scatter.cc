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

class BinomialGather final : public Algorithm {
 public:
  const char* name() const override { return "binomial"; }
  const char* description() const override {
    return "a binomial tree into the root, subtrees packed at inner ranks: log2(n) steps";
  }
  CollType coll() const override { return CollType::kGather; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const BinomialTree t{s.rank, s.nranks, a.root};
    const int v = t.relative();
    const int sub = t.subtree(v);
    auto rootBlock = [&](int w) { return recvAt(static_cast<size_t>(t.actual(w)) * bytes); };
    auto packed = [&](int w) { return scratchAt(static_cast<size_t>(w - v) * bytes); };
    PlanBuilder pb = builderFor(p, a);
    if (v == 0) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(static_cast<size_t>(s.rank) * bytes), bytes);
    } else if (sub > 1) {
      p.scratchBytes = static_cast<size_t>(sub) * bytes;
      pb.copy(sendAt(0), packed(v), bytes);
    }
    for (int mask = 1; mask < s.nranks; mask <<= 1) {
      pb.nextPhase();
      if (v & mask) {
        const int parent = v - mask;
        const BufRef held = sub > 1 ? packed(v) : sendAt(0);
        if (parent != 0) {
          pb.send(t.actual(parent), held, static_cast<size_t>(sub) * bytes);
        } else {
          for (auto [lo, hi] : t.actualPieces(v, v + sub))
            pb.send(a.root, {held.slot, held.offset + static_cast<size_t>(lo - v) * bytes},
                    static_cast<size_t>(hi - lo) * bytes);
        }
        break;
      }
      const int child = v + mask;
      if (child >= s.nranks) continue;
      const int csz = t.subtree(child);
      if (v == 0) {
        for (auto [lo, hi] : t.actualPieces(child, child + csz))
          pb.recv(t.actual(child), rootBlock(lo), static_cast<size_t>(hi - lo) * bytes);
      } else {
        pb.recv(t.actual(child), packed(child), static_cast<size_t>(csz) * bytes);
      }
    }
    pb.finish();
    return Status::ok();
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
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const BinomialTree t{s.rank, s.nranks, a.root};
    const int v = t.relative();
    const int sub = t.subtree(v);
    auto rootBlock = [&](int w) { return sendAt(static_cast<size_t>(t.actual(w)) * bytes); };
    auto packed = [&](int w) { return scratchAt(static_cast<size_t>(w - v) * bytes); };
    // A leaf receives its block where it belongs; an inner rank packs its subtree in scratch.
    const BufRef held = sub > 1 ? packed(v) : recvAt(0);
    if (v != 0 && sub > 1) p.scratchBytes = static_cast<size_t>(sub) * bytes;
    PlanBuilder pb = builderFor(p, a);
    for (int mask = t.span() / 2; mask >= 1; mask >>= 1) {
      pb.nextPhase();
      if (v % (2 * mask) == mask) {  // this round brings this rank its subtree
        const int parent = v - mask;
        if (parent != 0) {
          pb.recv(t.actual(parent), held, static_cast<size_t>(sub) * bytes);
        } else {
          for (auto [lo, hi] : t.actualPieces(v, v + sub))
            pb.recv(a.root, {held.slot, held.offset + static_cast<size_t>(lo - v) * bytes},
                    static_cast<size_t>(hi - lo) * bytes);
        }
        continue;
      }
      if (v % (2 * mask) != 0) continue;  // not yet holding data
      const int child = v + mask;
      if (child >= s.nranks) continue;
      const int csz = t.subtree(child);
      if (v == 0) {
        for (auto [lo, hi] : t.actualPieces(child, child + csz))
          pb.send(t.actual(child), rootBlock(lo), static_cast<size_t>(hi - lo) * bytes);
      } else {
        pb.send(t.actual(child), packed(child), static_cast<size_t>(csz) * bytes);
      }
    }
    pb.nextPhase();
    if (v == 0) {
      if (!a.inPlace) pb.copy(rootBlock(0), recvAt(0), bytes);
    } else if (sub > 1) {
      pb.copy(packed(v), recvAt(0), bytes);
    }
    pb.finish();
    return Status::ok();
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
