// The plans of MoE dispatch and combine: one phase in which a rank sends one message to every
// other rank and receives one from each, over slots of a fixed size (the worst case), so the
// plan needs only what this rank sends. A receive whose size this rank cannot know (dispatch:
// how many tokens a peer routes here) takes a message of at most the slot (Op::upTo); the
// header inside the message tells the rest.
#pragma once

#include <cstddef>
#include <vector>

#include "plan/plan.h"

namespace strata {

// Rank `me`'s exchange: to peer p the first sendBytes[p] bytes of send-stage slot p (kSendBuf at
// p x slotBytes); from peer p into receive slot p (kRecvBuf at p x slotBytes) a message of
// recvBytes[p] bytes, or of at most slotBytes when recvBytes is empty. Peers are visited in
// rotation (me+1, me+2, ...) so ranks do not all start on the same peer. Slot `me` is not sent:
// the caller writes its own part straight into its receive slot.
PlanPtr moeExchangePlan(const char* algo, int me, int nranks, size_t slotBytes,
                        const std::vector<size_t>& sendBytes, const std::vector<size_t>& recvBytes);

// One part of a message of a pipelined round: `bytes` at `offset` of the send stage (receive
// area); 0 bytes: nothing this round. upTo: a receive of at most `bytes` (Op::upTo).
struct MoeTransfer {
  size_t offset = 0;
  size_t bytes = 0;
  bool upTo = false;
};

// One round of a pipelined dispatch or combine: to each peer p its sends[p], from each peer p
// its recvs[p] (indexed by rank; entry `me` is ignored), peers in rotation as above. Null when
// the round moves nothing.
PlanPtr moeRoundPlan(const char* algo, int me, int nranks, const std::vector<MoeTransfer>& sends,
                     const std::vector<MoeTransfer>& recvs);

// One message of a round to or from one peer. Several to one peer are allowed: they travel in
// list order (the channel's FIFO), so both sides list them in the same order.
struct MoePeerTransfer {
  int peer = -1;
  MoeTransfer transfer;
};

// One phase with the sends and the receives of the lists, in list order (zero-byte ones are
// dropped). Null when it moves nothing.
PlanPtr moeTransferPlan(const char* algo, int nranks, const std::vector<MoePeerTransfer>& sends,
                        const std::vector<MoePeerTransfer>& recvs);

}  // namespace strata
