// MoeWindow: a MoE buffer's receive areas in shared memory that every rank of the host maps, so
// that dispatch and combine write each message straight into the receiver's slot (the put) and
// announce each chunk with a signal, instead of copying it through the transport's FIFOs.
//
// Layout of one rank's allocation: the dispatch receive area (nranks slots of
// MoeShape::dispatchSlotBytes, slot s holding rank s's message) and then the combine receive area
// (nranks slots of combineSlotBytes). A sender writes its message into its own slot of the
// receiver's area, as mapped in its process.
//
// Slot reuse. Each direct dispatch and combine starts with a synchronisation (every rank signals
// every peer and waits for every peer's signal): a rank enters a call only after it finished
// reading its slots in the one before, so once it has every peer's signal it may overwrite its
// slots at the peers. Every signal of a call is consumed in that call (none is left over for a
// later call to find, possibly by another plan run whose counts it would land in). Signals travel
// behind everything a rank wrote before them (plan.h, rule 4), so a wait on the data channel
// guarantees the chunk it announces has landed.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "moe/moe_plans.h"
#include "moe/moe_shape.h"
#include "plan/plan.h"
#include "runtime/comm.h"
#include "runtime/window_table.h"

namespace strata {

// Signal channels of the direct path (plan.h: kSignalChannels per pair; the direct collectives
// use channel 1): one chunk has landed; the synchronisation that starts a call.
inline constexpr int kMoeDataChannel = 12;
inline constexpr int kMoeSyncChannel = 13;

class MoeWindow {
 public:
  // Collective when the communicator could take the direct path: every rank on one host over
  // shared memory, more than one rank. Returns null (the FIFO path, on every rank alike) when it
  // cannot, when any rank sets STRATA_MOE_DIRECT=0, or when the ranks' shapes differ (their
  // messages' headers then name the difference, as on the FIFO path). InvalidArgument names a
  // STRATA_MOE_DIRECT other than 0 or 1.
  static Result<std::unique_ptr<MoeWindow>> create(Comm& comm, const MoeShape& shape);
  ~MoeWindow();
  MoeWindow(const MoeWindow&) = delete;
  MoeWindow& operator=(const MoeWindow&) = delete;

  // Rank r's dispatch (combine) receive area as mapped in this process (this rank's: its own).
  std::byte* dispatchArea(int rank) const { return window_->peerBase[static_cast<size_t>(rank)]; }
  std::byte* combineArea(int rank) const {
    return window_->peerBase[static_cast<size_t>(rank)] + combineOffset_;
  }

 private:
  MoeWindow(void* memory, std::unique_ptr<Window> window, size_t combineOffset)
      : memory_(memory), window_(std::move(window)), combineOffset_(combineOffset) {}
  void* memory_;                    // this rank's allocation (sharedAlloc), freed last
  std::unique_ptr<Window> window_;  // the peers' allocations mapped here; unmapped first
  size_t combineOffset_;
};

// One round of a direct leg: a signal to each peer p whose sends[p] has bytes (its chunk is
// already written into p's slot) and a wait for each peer whose recvs[p] has bytes, on the data
// channel, peers in rotation. Null when the round moves nothing.
PlanPtr moeDirectRoundPlan(const char* algo, int me, int nranks,
                           const std::vector<MoeTransfer>& sends,
                           const std::vector<MoeTransfer>& recvs);

// The synchronisation that starts a direct call: a signal to every peer, then a wait for every
// peer's, on kMoeSyncChannel.
PlanPtr moeSyncPlan(const char* algo, int me, int nranks);

}  // namespace strata
