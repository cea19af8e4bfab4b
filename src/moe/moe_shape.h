// The shape a MoE buffer serves and the byte layout of its messages. A dispatch message from
// one rank to another is a header followed by one record per token:
//   header: MoeWireHeader (the sender's shape and token count), padded to kMoeHeaderBytes, then
//           (dispatch only) one uint32 per local slot of the receiver: the rows its tokens make
//           there, so the receiver places every chunk's rows where they end up as it lands
//   record: topk int32 expert ids | topk int32 slots | topk float32 weights | [float32 scale] |
//           payload
// where the payload is hidden elements of the buffer's dtype, or hidden int8 values after the
// token's scale when the leg is int8. A combine message is the same header followed by one
// row per token: [float32 scale] | payload. Records are padded to 16 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/status.h"
#include "strata/strata.h"

namespace strata {

inline constexpr size_t kMoeHeaderBytes = 64;
inline constexpr uint32_t kMoeDispatchMagic = 0x4d4f4544u;  // "DEOM"
inline constexpr uint32_t kMoeCombineMagic = 0x4d4f4543u;   // "CEOM"

struct MoeWireHeader {
  uint32_t magic = 0;
  uint32_t tokens = 0;
  uint32_t hidden = 0;
  uint32_t topk = 0;
  uint32_t numExperts = 0;
  uint32_t dtype = 0;
  uint32_t quant = 0;
  uint32_t recordBytes = 0;
  uint32_t numSlots = 0;
  uint32_t chunkTokens = 0;  // tokens per pipelined chunk (every rank must use the same)
  // A forwarded piece of a two-level dispatch (moe_hier.cc): its records, and the rounds its
  // forwarder sends pieces of this source in.
  uint32_t pieceTokens = 0;
  uint32_t pieceRounds = 0;
};
static_assert(sizeof(MoeWireHeader) <= kMoeHeaderBytes);

// The header at the start of a message (its bytes may sit at any alignment).
inline MoeWireHeader readMoeHeader(const std::byte* p) {
  MoeWireHeader h;
  std::memcpy(&h, p, sizeof(h));
  return h;
}
inline void writeMoeHeader(std::byte* p, const MoeWireHeader& h) {
  std::memcpy(p, &h, sizeof(h));
}

struct MoeShape {
  size_t maxTokens = 0;  // per rank and dispatch
  size_t hidden = 0;
  int topk = 0;
  int numExperts = 0;
  int numSlots = 0;  // physical expert slots (replicas included)
  int nranks = 1;
  int localExperts = 0;  // slots per rank: numSlots / nranks
  strataDataType_t dtype = strataBfloat16;
  strataMoeQuant_t dispatchQuant = strataMoeQuantNone;
  strataMoeQuant_t combineQuant = strataMoeQuantNone;

  size_t elemBytes() const;
  // Bytes of one token's payload on a leg (values and, for int8, its scale).
  size_t payloadBytes(strataMoeQuant_t q) const;
  size_t dispatchRecordBytes() const;
  size_t combineRecordBytes() const;
  // The dispatch header: the wire header and the rows per local slot of the receiver.
  size_t dispatchHeaderBytes() const;
  // A message slot: header + maxTokens records (the worst case from one rank).
  size_t dispatchSlotBytes() const {
    return dispatchHeaderBytes() + maxTokens * dispatchRecordBytes();
  }
  size_t combineSlotBytes() const { return kMoeHeaderBytes + maxTokens * combineRecordBytes(); }
  // The most rows one rank can receive: every rank's tokens, each on up to min(k, local
  // experts) of its experts.
  size_t maxRecvRows() const;
  // The rank holding a slot, and the slot's index there.
  int rankOf(int slot) const { return slot / localExperts; }
  int localOf(int slot) const { return slot % localExperts; }
};

// Checks a caller's configuration for nranks ranks; InvalidArgument names the bad field.
Result<MoeShape> makeMoeShape(const strataMoeConfig_t& config, int nranks);

// The header a rank sends with `tokens` records of `recordBytes` on a leg.
MoeWireHeader moeHeader(const MoeShape& s, uint32_t magic, strataMoeQuant_t quant, size_t tokens,
                        size_t recordBytes);
// Checks a received header against this rank's shape: InvalidUsage names the peer and the field
// that differs, InvalidArgument a token count above the maximum.
Status checkMoeHeader(const char* op, const MoeWireHeader& got, const MoeWireHeader& mine, int peer,
                      size_t maxTokens);

}  // namespace strata
