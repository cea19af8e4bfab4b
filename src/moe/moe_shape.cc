#include "moe/moe_shape.h"

#include <algorithm>
#include <limits>

#include "base/dtype.h"
#include "base/limits.h"

namespace strata {
namespace {

size_t roundUp16(size_t n) { return (n + 15) / 16 * 16; }

bool validMoeQuant(strataMoeQuant_t q) {
  return q == strataMoeQuantNone || q == strataMoeQuantInt8;
}

}  // namespace

size_t MoeShape::elemBytes() const { return dtypeSize(dtype); }

size_t MoeShape::payloadBytes(strataMoeQuant_t q) const {
  return q == strataMoeQuantInt8 ? sizeof(float) + hidden : hidden * elemBytes();
}

size_t MoeShape::dispatchRecordBytes() const {
  return roundUp16(static_cast<size_t>(topk) * (2 * sizeof(int32_t) + sizeof(float)) +
                   payloadBytes(dispatchQuant));
}

size_t MoeShape::dispatchHeaderBytes() const {
  return kMoeHeaderBytes + roundUp16(static_cast<size_t>(localExperts) * sizeof(uint32_t));
}

size_t MoeShape::combineRecordBytes() const { return roundUp16(payloadBytes(combineQuant)); }

size_t MoeShape::maxRecvRows() const {
  return static_cast<size_t>(nranks) * maxTokens *
         static_cast<size_t>(std::min(topk, localExperts));
}

Result<MoeShape> makeMoeShape(const strataMoeConfig_t& c, int nranks) {
  const char* op = "strataMoeBufferCreate";
  if (c.maxTokensPerRank == 0)
    return makeError(strataInvalidArgument, "%s: config.maxTokensPerRank is 0", op);
  if (c.hidden == 0) return makeError(strataInvalidArgument, "%s: config.hidden is 0", op);
  if (c.numExperts <= 0)
    return makeError(strataInvalidArgument, "%s: config.numExperts %d is not positive", op,
                     c.numExperts);
  if (c.topk <= 0 || c.topk > c.numExperts)
    return makeError(strataInvalidArgument,
                     "%s: config.topk %d is outside [1, numExperts = %d]: each token goes to "
                     "1 to numExperts experts",
                     op, c.topk, c.numExperts);
  const int slots = c.numSlots == 0 ? c.numExperts : c.numSlots;
  if (c.numSlots == 0 && c.numExperts % nranks != 0)
    return makeError(strataInvalidArgument,
                     "%s: config.numExperts %d is not a multiple of the %d ranks (each rank "
                     "holds numExperts / nranks experts; or set numSlots)",
                     op, c.numExperts, nranks);
  if (slots < c.numExperts || slots % nranks != 0)
    return makeError(strataInvalidArgument,
                     "%s: config.numSlots %d is below numExperts %d or not a multiple of the %d "
                     "ranks",
                     op, c.numSlots, c.numExperts, nranks);
  if (c.dtype != strataBfloat16 && c.dtype != strataFloat16 && c.dtype != strataFloat32)
    return makeError(strataInvalidArgument,
                     "%s: config.dtype %d (%s) is not strataBfloat16, strataFloat16 or "
                     "strataFloat32",
                     op, static_cast<int>(c.dtype),
                     validType(c.dtype) ? dtypeName(c.dtype) : "not a strataDataType_t");
  if (!validMoeQuant(c.dispatchQuant))
    return makeError(strataInvalidArgument,
                     "%s: config.dispatchQuant %d is not strataMoeQuantNone or strataMoeQuantInt8",
                     op, static_cast<int>(c.dispatchQuant));
  if (!validMoeQuant(c.combineQuant))
    return makeError(strataInvalidArgument,
                     "%s: config.combineQuant %d is not strataMoeQuantNone or strataMoeQuantInt8",
                     op, static_cast<int>(c.combineQuant));
  MoeShape s;
  s.maxTokens = c.maxTokensPerRank;
  s.hidden = c.hidden;
  s.topk = c.topk;
  s.numExperts = c.numExperts;
  s.numSlots = slots;
  s.nranks = nranks;
  s.localExperts = slots / nranks;
  s.dtype = c.dtype;
  s.dispatchQuant = c.dispatchQuant;
  s.combineQuant = c.combineQuant;
  // Everything the buffer reserves must be addressable; keep headers' 32-bit fields exact.
  const size_t limit = std::numeric_limits<uint32_t>::max();
  if (s.hidden > limit / 8 || s.maxTokens > limit)
    return makeError(strataInvalidArgument,
                     "%s: config.hidden %zu or maxTokensPerRank %zu is too "
                     "large",
                     op, s.hidden, s.maxTokens);
  // The worst-case receive space (every rank sends all its tokens here), in bytes, bounded
  // like any buffer of a call.
  const size_t rec = std::max(s.dispatchRecordBytes(), s.combineRecordBytes());
  uint64_t rows = 0, bytes = 0;
  if (!boundedProduct(s.maxTokens, static_cast<uint64_t>(nranks) *
                                       static_cast<uint64_t>(std::min(s.topk, s.localExperts)),
                      kMaxBufferBytes, &rows) ||
      !boundedProduct(rows, rec, kMaxBufferBytes, &bytes))
    return makeError(strataInvalidArgument,
                     "%s: maxTokensPerRank %zu x hidden %zu x %d ranks needs more receive space "
                     "than the %llu bytes a buffer may span",
                     op, s.maxTokens, s.hidden, nranks,
                     static_cast<unsigned long long>(kMaxBufferBytes));
  return s;
}

MoeWireHeader moeHeader(const MoeShape& s, uint32_t magic, strataMoeQuant_t quant, size_t tokens,
                        size_t recordBytes) {
  MoeWireHeader h;
  h.magic = magic;
  h.tokens = static_cast<uint32_t>(tokens);
  h.hidden = static_cast<uint32_t>(s.hidden);
  h.topk = static_cast<uint32_t>(s.topk);
  h.numExperts = static_cast<uint32_t>(s.numExperts);
  h.dtype = static_cast<uint32_t>(s.dtype);
  h.quant = static_cast<uint32_t>(quant);
  h.recordBytes = static_cast<uint32_t>(recordBytes);
  h.numSlots = static_cast<uint32_t>(s.numSlots);
  return h;
}

Status checkMoeHeader(const char* op, const MoeWireHeader& got, const MoeWireHeader& mine, int peer,
                      size_t maxTokens) {
  if (got.magic != mine.magic)
    return makeError(strataInvalidUsage,
                     "%s: rank %d sent a message that is not a MoE %s message (the ranks called "
                     "different operations)",
                     op, peer, mine.magic == kMoeDispatchMagic ? "dispatch" : "combine");
  auto differ = [&](const char* what, uint32_t theirs, uint32_t ours) {
    return makeError(strataInvalidUsage,
                     "%s: rank %d's MoE buffer has %s %u where this rank's has %u (every rank "
                     "creates its buffer with the same strataMoeConfig_t)",
                     op, peer, what, theirs, ours);
  };
  if (got.hidden != mine.hidden) return differ("hidden", got.hidden, mine.hidden);
  if (got.topk != mine.topk) return differ("topk", got.topk, mine.topk);
  if (got.numExperts != mine.numExperts)
    return differ("numExperts", got.numExperts, mine.numExperts);
  if (got.numSlots != mine.numSlots) return differ("numSlots", got.numSlots, mine.numSlots);
  if (got.dtype != mine.dtype) return differ("dtype", got.dtype, mine.dtype);
  if (got.quant != mine.quant) return differ("quantisation", got.quant, mine.quant);
  if (got.recordBytes != mine.recordBytes)
    return differ("record size", got.recordBytes, mine.recordBytes);
  if (got.chunkTokens != mine.chunkTokens)
    return makeError(strataInvalidUsage,
                     "%s: rank %d sends chunks of %u tokens where this rank's buffer uses %u "
                     "(every rank sets the same strataMoeBufferSetChunkTokens)",
                     op, peer, got.chunkTokens, mine.chunkTokens);
  if (got.tokens > maxTokens)
    return makeError(strataInvalidUsage,
                     "%s: rank %d sent %u tokens, more than maxTokensPerRank %zu of this rank's "
                     "buffer",
                     op, peer, got.tokens, maxTokens);
  return Status::ok();
}

}  // namespace strata
