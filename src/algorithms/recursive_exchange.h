// The two halves of recursive halving-doubling over the new ranks of a folding
// (patterns/folding.h), which `rhd` AllReduce and ReduceScatter and `recdbl` AllGather share.
// edge(j) is the element where new rank j's range starts (edge(p) is the end); ranges are
// contiguous and in new-rank order.
#pragma once

#include <cstddef>

#include "algorithms/patterns/folding.h"
#include "plan/plan.h"

namespace strata {

// The recursive halving of new rank nr over ranges of elements: edge(j) is where new rank j's
// range starts (edge(p) is the end). Reduces into acc, starting from `held` (the input, or acc
// once folded); returns once this rank holds [edge(nr), edge(nr+1)) reduced over everyone.
template <typename Edge>
void recursiveHalving(PlanBuilder& pb, const patterns::Folding& f, int nr, Edge&& edge, size_t es,
                      BufRef held, BufRef acc) {
  auto at = [&](BufRef b, int j) { return BufRef{b.slot, b.offset + edge(j) * es}; };
  auto len = [&](int lo, int hi) { return (edge(hi) - edge(lo)) * es; };
  int lo = 0, hi = f.p;
  for (int m = f.p / 2; m >= 1; m /= 2) {
    pb.nextPhase();
    const int partner = f.oldRank(nr ^ m);
    const int mid = lo + (hi - lo) / 2;
    const bool upper = (nr & m) != 0;
    const int keepLo = upper ? mid : lo, keepHi = upper ? hi : mid;
    const int giveLo = upper ? lo : mid, giveHi = upper ? mid : hi;
    pb.send(partner, at(held, giveLo), len(giveLo, giveHi));
    pb.recvReduce(partner, at(acc, keepLo), at(held, keepLo), len(keepLo, keepHi));
    held = acc;
    lo = keepLo;
    hi = keepHi;
  }
}

// Recursive doubling of new rank nr: in the step at distance m (1 up to p/2) it exchanges its
// m ranges with new rank nr ^ m, so it ends holding every range of buf.
template <typename Edge>
void recursiveDoubling(PlanBuilder& pb, const patterns::Folding& f, int nr, Edge&& edge, size_t es,
                       BufRef buf) {
  auto at = [&](int j) { return BufRef{buf.slot, buf.offset + edge(j) * es}; };
  for (int m = 1; m < f.p; m *= 2) {
    pb.nextPhase();
    const int mine = nr & ~(m - 1), theirs = (nr ^ m) & ~(m - 1);
    pb.send(f.oldRank(nr ^ m), at(mine), (edge(mine + m) - edge(mine)) * es);
    pb.recv(f.oldRank(nr ^ m), at(theirs), (edge(theirs + m) - edge(theirs)) * es);
  }
}

}  // namespace strata
