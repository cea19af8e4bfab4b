// The direct ReduceScatter over a full mesh that `mesh` ReduceScatter, `twoshot` AllReduce and
// the level 0 of `hier` AllReduce share: block j of this rank's input goes straight to rank j; the
// n contributions to this rank's block land in scratch slots, one per rank, and are reduced in rank
// order (bit-identical on every rank, low precision rounded once). One exchange step, then one
// local reduction.
#pragma once

#include <cstddef>

#include "algorithms/patterns/ring.h"
#include "plan/plan.h"

namespace strata {

// Over n members: this rank is member `me`, member j is rank peer(j). in(j), len(j): where
// block j of the input lies and its bytes. The slots take n x slotBytes of scratch from byte
// `scratchAt0` (slotBytes >= len(me)). Emits the exchange in the current phase and the
// reduction into dst in the next; returns the reduction.
template <typename Peer, typename In, typename Len>
OpId meshReduceScatter(PlanBuilder& pb, int me, int n, Peer&& peer, In&& in, Len&& len,
                       size_t slotBytes, size_t scratchAt0, BufRef dst) {
  auto slot = [&](int j) { return scratchAt(scratchAt0 + static_cast<size_t>(j) * slotBytes); };
  pb.copy(in(me), slot(me), len(me));
  for (int k = 1; k < n; ++k) {
    const int to = patterns::mod(me + k, n), from = patterns::mod(me - k, n);
    pb.send(peer(to), in(to), len(to));
    pb.recv(peer(from), slot(from), len(me));
  }
  pb.nextPhase();
  return pb.reduceMany(dst, slot(0), slotBytes, n, len(me));
}

}  // namespace strata
