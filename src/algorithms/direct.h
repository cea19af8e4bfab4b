// Shared pieces of the direct algorithms: plans that read and write other ranks' buffers in
// registered windows (BufRef::rank) and synchronise with signals instead of moving bytes through
// the transport. Eligible only for windowed calls on a shared-memory communicator.
#pragma once

#include "algorithms/algorithm.h"
#include "base/dtype.h"

namespace strata::direct {

// Whether a direct algorithm may plan this call.
inline bool eligible(const CollArgs& a, const CommShape& s) { return a.windowed && s.windows; }

// What every direct algorithm shares: it is direct, and it plans only eligible calls.
class WindowAlgorithm : public Algorithm {
 public:
  bool direct() const override { return true; }
  bool supports(const CollArgs& a, const CommShape& s) const override { return eligible(a, s); }
};

// One rank: the output is the input, copied when out of place. True when it planned the call.
inline bool planAlone(PlanBuilder& pb, const CollArgs& a, const CommShape& s, size_t bytes) {
  if (s.nranks != 1) return false;
  if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
  pb.finish();
  return true;
}

// Equal blocks of one per rank, rank r's at r x bytes (AllGather, ReduceScatter, AllToAll).
struct Blocks {
  size_t bytes;  // one block
  size_t at(int rank) const { return static_cast<size_t>(rank) * bytes; }
};

// The call's blocks: `count` elements each.
inline Blocks blocksOf(const CollArgs& a) { return {a.count * dtypeSize(a.dtype)}; }

// The signal channel direct plans synchronise on. Every plan signals and waits on it the same
// number of times per peer, so the counts stay balanced from call to call.
inline constexpr int kChannel = 1;

// One phase in which this rank signals every peer and waits for every peer's signal: once it
// completes, every peer has reached the same point of the call.
inline void syncAll(PlanBuilder& pb, const CommShape& s) {
  pb.nextPhase();
  for (int k = 1; k < s.nranks; ++k) pb.signal((s.rank + k) % s.nranks, kChannel);
  for (int k = 1; k < s.nranks; ++k) pb.wait((s.rank - k + s.nranks) % s.nranks, kChannel);
  pb.nextPhase();
}

}  // namespace strata::direct
