// Which call a message belongs to. Every chunk the executor pushes carries its call's tag
// (Endpoint::push's `call`): the communicator's sequence number of the call and its kind. A
// receiver that finds a chunk of another call rejects it with strataInvalidUsage, so ranks that
// disagree on the order or the kind of their calls (one in AllReduce, another in Broadcast; two
// Broadcast roots that both send) fail naming both calls instead of consuming each other's data.
//
// The sequence number counts the calls every rank of the communicator makes (collectives and
// MoE dispatch/combine), so it agrees across ranks whenever their programs do. Send and Recv
// involve only some ranks: they do not advance it and carry the number of the last collective
// instead, under one kind for both.
#pragma once

#include <cstdint>
#include <string>

#include "plan/coll_args.h"

namespace strata {

enum class CallKind : uint8_t {
  kPointToPoint = static_cast<uint8_t>(CollType::kSend),  // Send and Recv
  kMoeDispatch = kNumCollTypes,
  kMoeCombine,
  kCallCheck,  // the signature exchange before a call under STRATA_CHECK=1 (runtime/call_check.h)
  kGroupCounts,  // an AllToAllv's level-0 count exchange before it is planned (runtime/group_counts.h)
};

// The kind a collective call's messages carry.
uint8_t callKindOf(CollType c);

struct CallTag {
  uint32_t seq = 0;
  uint8_t kind = 0;

  // 0 stays "untagged" (a run whose items were never tagged): bit 63 marks a tag.
  uint64_t pack() const { return uint64_t{1} << 63 | uint64_t{seq} << 8 | kind; }
  static CallTag unpack(uint64_t v) {
    return CallTag{static_cast<uint32_t>(v >> 8), static_cast<uint8_t>(v & 0xff)};
  }
};

// "call #3 Broadcast" (or "an untagged call" for 0), for messages.
std::string describeCall(uint64_t packed);

}  // namespace strata
