#include "moe/moe_buffer.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "moe/moe_placement.h"
#include "moe/moe_plans.h"
#include "moe/moe_run.h"
#include "reduce/quantize.h"
#include "reduce/reduce.h"

namespace strata {
namespace {

constexpr const char* kDispatch = "strataMoeDispatch";
constexpr const char* kCombine = "strataMoeCombine";

MoeWireHeader readHeader(const std::byte* slot) {
  MoeWireHeader h;
  std::memcpy(&h, slot, sizeof(h));
  return h;
}

void writeHeader(std::byte* slot, const MoeWireHeader& h) { std::memcpy(slot, &h, sizeof(h)); }

}  // namespace

MoeBuffer::MoeBuffer(Comm& comm, MoeShape shape) : comm_(comm), shape_(shape), rank_(comm.rank()) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t t = shape_.maxTokens;
  const size_t h = shape_.hidden;
  dispatchSend_.resize(n * shape_.dispatchSlotBytes());
  dispatchRecv_.resize(n * shape_.dispatchSlotBytes());
  combineSend_.resize(n * shape_.combineSlotBytes());
  combineRecv_.resize(n * shape_.combineSlotBytes());
  rowAccum_.resize(n * t * h);
  tokenAccum_.resize(t * h);
  rowFloat_.resize(h);
  rowQuant_.resize(h);
  sentTokens_.resize(n * t);
  sentCount_.resize(n);
  recvCount_.resize(n);
  recvBase_.resize(n);
  rowSource_.resize(shape_.maxRecvRows());
  rowWeight_.resize(shape_.maxRecvRows());
  sendBytes_.resize(n);
  recvBytes_.resize(n);
  expertCursor_.resize(static_cast<size_t>(shape_.localExperts));
  inRank_.resize(n);
  if (shape_.numSlots == shape_.numExperts) {  // slot e holds expert e
    route_.resize(static_cast<size_t>(shape_.numExperts));
    std::iota(route_.begin(), route_.end(), 0);
  }
}

void MoeBuffer::setPlacement(const int32_t* slotExpert) {
  route_ = routeForRank(slotExpert, shape_.numSlots, shape_.numExperts, shape_.nranks, rank_,
                        comm_.topology());
}

Result<std::unique_ptr<MoeBuffer>> MoeBuffer::create(Comm& comm, const strataMoeConfig_t& config) {
  STRATA_ASSIGN(MoeShape shape, makeMoeShape(config, comm.nranks()));
  return std::unique_ptr<MoeBuffer>(new MoeBuffer(comm, shape));
}

// Writes each token's record once into the message of every rank holding one of its experts
// (this rank's own straight into its receive slot), quantising it once when the leg is int8.
void MoeBuffer::packDispatch(const void* x, const TopkIds& ids, const float* weights) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t k = static_cast<size_t>(shape_.topk);
  const size_t h = shape_.hidden;
  const size_t rowBytes = h * shape_.elemBytes();
  const size_t rec = shape_.dispatchRecordBytes();
  const bool int8 = shape_.dispatchQuant == strataMoeQuantInt8;
  std::fill(sentCount_.begin(), sentCount_.end(), 0);
  for (size_t t = 0; t < ids.tokens; ++t) {
    std::fill(inRank_.begin(), inRank_.end(), 0);
    for (int j = 0; j < shape_.topk; ++j) {
      const int64_t e = ids.at(t, j);
      if (e >= 0) inRank_[static_cast<size_t>(shape_.rankOf(route_[static_cast<size_t>(e)]))] = 1;
    }
    const std::byte* row = static_cast<const std::byte*>(x) + t * rowBytes;
    float scale = 0;
    bool quantised = false;
    for (size_t r = 0; r < n; ++r) {
      if (!inRank_[r]) continue;
      const int dst = static_cast<int>(r);
      std::byte* slot =
          dst == rank_ ? dispatchSlot(dispatchRecv_, dst) : dispatchSlot(dispatchSend_, dst);
      std::byte* p = slot + kMoeHeaderBytes + sentCount_[r] * rec;
      sentTokens_[r * shape_.maxTokens + sentCount_[r]++] = static_cast<int32_t>(t);
      auto* idsOut = reinterpret_cast<int32_t*>(p);
      for (int j = 0; j < shape_.topk; ++j) {
        const int64_t e = ids.at(t, j);
        idsOut[j] = static_cast<int32_t>(e);
        idsOut[k + static_cast<size_t>(j)] = e >= 0 ? route_[static_cast<size_t>(e)] : -1;
      }
      std::memcpy(p + 2 * k * sizeof(int32_t), weights + t * k, k * sizeof(float));
      std::byte* payload = p + k * (2 * sizeof(int32_t) + sizeof(float));
      if (int8) {
        if (!quantised) {
          quantizeBlocks(shape_.dtype, row, strataInt8, rowQuant_.data(), &scale, h, h);
          quantised = true;
        }
        std::memcpy(payload, &scale, sizeof(float));
        std::memcpy(payload + sizeof(float), rowQuant_.data(), h);
      } else {
        std::memcpy(payload, row, rowBytes);
      }
    }
  }
  const MoeWireHeader mine = moeHeader(shape_, kMoeDispatchMagic, shape_.dispatchQuant, 0, rec);
  for (size_t r = 0; r < n; ++r) {
    MoeWireHeader hd = mine;
    hd.tokens = static_cast<uint32_t>(sentCount_[r]);
    const int dst = static_cast<int>(r);
    writeHeader(dst == rank_ ? dispatchSlot(dispatchRecv_, dst) : dispatchSlot(dispatchSend_, dst),
                hd);
    sendBytes_[r] = kMoeHeaderBytes + sentCount_[r] * rec;
  }
}

// Groups the delivered tokens by local expert: a token holding several of this rank's experts
// arrived once and becomes one row per expert.
Status MoeBuffer::unpackDispatch(const MoeDispatchOutputs& out) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t k = static_cast<size_t>(shape_.topk);
  const size_t h = shape_.hidden;
  const size_t rowBytes = h * shape_.elemBytes();
  const size_t rec = shape_.dispatchRecordBytes();
  const size_t lx = static_cast<size_t>(shape_.localExperts);
  const bool int8 = shape_.dispatchQuant == strataMoeQuantInt8;
  const MoeWireHeader mine = moeHeader(shape_, kMoeDispatchMagic, shape_.dispatchQuant, 0, rec);
  std::fill_n(out.recvCountsPerExpert, lx, 0);
  size_t base = 0;
  for (size_t s = 0; s < n; ++s) {
    const std::byte* slot = dispatchSlot(dispatchRecv_, static_cast<int>(s));
    const MoeWireHeader hd = readHeader(slot);
    STRATA_CHECK(checkMoeHeader(kDispatch, hd, mine, static_cast<int>(s), shape_.maxTokens));
    recvCount_[s] = hd.tokens;
    recvBase_[s] = base;
    base += hd.tokens;
    for (size_t i = 0; i < hd.tokens; ++i) {
      const auto* slots = reinterpret_cast<const int32_t*>(slot + kMoeHeaderBytes + i * rec) + k;
      for (size_t j = 0; j < k; ++j) {
        const int32_t e = slots[j];
        if (e < 0 || e >= shape_.numSlots || shape_.rankOf(e) != rank_) continue;
        ++out.recvCountsPerExpert[shape_.localOf(e)];
      }
    }
  }
  size_t rows = 0;
  for (size_t e = 0; e < lx; ++e) {
    expertCursor_[e] = rows;
    rows += static_cast<size_t>(out.recvCountsPerExpert[e]);
  }
  auto* recvX = static_cast<std::byte*>(out.recvX);
  for (size_t s = 0; s < n; ++s) {
    const std::byte* slot = dispatchSlot(dispatchRecv_, static_cast<int>(s));
    for (size_t i = 0; i < recvCount_[s]; ++i) {
      const std::byte* p = slot + kMoeHeaderBytes + i * rec;
      const auto* ids = reinterpret_cast<const int32_t*>(p);
      const int32_t* slots = ids + k;
      const auto* w = reinterpret_cast<const float*>(p + 2 * k * sizeof(int32_t));
      const std::byte* payload = p + k * (2 * sizeof(int32_t) + sizeof(float));
      for (size_t j = 0; j < k; ++j) {
        const int32_t e = slots[j];
        if (e < 0 || e >= shape_.numSlots || shape_.rankOf(e) != rank_) continue;
        const size_t row = expertCursor_[static_cast<size_t>(shape_.localOf(e))]++;
        std::byte* dst = recvX + row * rowBytes;
        if (int8) {
          float scale;
          std::memcpy(&scale, payload, sizeof(float));
          dequantizeBlocks(strataInt8, payload + sizeof(float), &scale, h, shape_.dtype, dst, h);
        } else {
          std::memcpy(dst, payload, rowBytes);
        }
        if (out.recvTopkIdx) std::memcpy(out.recvTopkIdx + row * k, ids, k * sizeof(int32_t));
        if (out.recvTopkWeights) std::memcpy(out.recvTopkWeights + row * k, w, k * sizeof(float));
        rowSource_[row] = static_cast<int32_t>(recvBase_[s] + i);
        rowWeight_[row] = w[j];
      }
    }
  }
  numRows_ = rows;
  if (out.numRecvTokens) *out.numRecvTokens = rows;
  return Status::ok();
}

Status MoeBuffer::dispatch(const void* x, const TopkIds& ids, const float* weights,
                           const MoeDispatchOutputs& out) {
  dispatched_ = false;
  numTokens_ = ids.tokens;
  packDispatch(x, ids, weights);
  if (shape_.nranks > 1) {
    const PlanPtr plan = moeExchangePlan("moe-dispatch", rank_, shape_.nranks,
                                         shape_.dispatchSlotBytes(), sendBytes_, {});
    STRATA_CHECK(runMoePlan(comm_, run_, plan, "MoeDispatch", dispatchSend_.data(),
                            dispatchRecv_.data(), ids.tokens * shape_.hidden * shape_.elemBytes()));
  }
  STRATA_CHECK(unpackDispatch(out));
  dispatched_ = true;
  return Status::ok();
}

// Sums each delivered token's rows, weighted, in float32, and writes one row per token into the
// message back to its source rank (rounded to the dtype once, or quantised to int8).
void MoeBuffer::packCombine(const void* expertOut) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t h = shape_.hidden;
  const size_t rowBytes = h * shape_.elemBytes();
  const size_t rec = shape_.combineRecordBytes();
  const size_t total = recvBase_[n - 1] + recvCount_[n - 1];
  std::fill_n(rowAccum_.begin(), total * h, 0.0f);
  const auto* in = static_cast<const std::byte*>(expertOut);
  float* tmp = rowFloat_.data();
  for (size_t row = 0; row < numRows_; ++row) {
    toFloat32(shape_.dtype, in + row * rowBytes, tmp, h);
    float* acc = rowAccum_.data() + static_cast<size_t>(rowSource_[row]) * h;
    const float w = rowWeight_[row];
    for (size_t i = 0; i < h; ++i) acc[i] += w * tmp[i];
  }
  const bool int8 = shape_.combineQuant == strataMoeQuantInt8;
  const MoeWireHeader mine = moeHeader(shape_, kMoeCombineMagic, shape_.combineQuant, 0, rec);
  for (size_t s = 0; s < n; ++s) {
    const int src = static_cast<int>(s);
    std::byte* slot =
        src == rank_ ? combineSlot(combineRecv_, src) : combineSlot(combineSend_, src);
    MoeWireHeader hd = mine;
    hd.tokens = static_cast<uint32_t>(recvCount_[s]);
    writeHeader(slot, hd);
    for (size_t i = 0; i < recvCount_[s]; ++i) {
      const float* acc = rowAccum_.data() + (recvBase_[s] + i) * h;
      std::byte* p = slot + kMoeHeaderBytes + i * rec;
      if (int8) {
        float scale = 0;
        quantizeBlocks(strataFloat32, acc, strataInt8, p + sizeof(float), &scale, h, h);
        std::memcpy(p, &scale, sizeof(float));
      } else {
        fromFloat32(shape_.dtype, acc, p, h);
      }
    }
    sendBytes_[s] = kMoeHeaderBytes + recvCount_[s] * rec;
    recvBytes_[s] = kMoeHeaderBytes + sentCount_[s] * rec;
  }
}

// Adds every rank's partial sums of this rank's tokens in float32 and rounds once.
Status MoeBuffer::unpackCombine(void* combined) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t h = shape_.hidden;
  const size_t rec = shape_.combineRecordBytes();
  const bool int8 = shape_.combineQuant == strataMoeQuantInt8;
  const MoeWireHeader mine = moeHeader(shape_, kMoeCombineMagic, shape_.combineQuant, 0, rec);
  std::fill_n(tokenAccum_.begin(), numTokens_ * h, 0.0f);
  float* tmp = rowFloat_.data();
  for (size_t r = 0; r < n; ++r) {
    const std::byte* slot = combineSlot(combineRecv_, static_cast<int>(r));
    const MoeWireHeader hd = readHeader(slot);
    STRATA_CHECK(checkMoeHeader(kCombine, hd, mine, static_cast<int>(r), shape_.maxTokens));
    if (hd.tokens != sentCount_[r])
      return makeError(strataInvalidUsage,
                       "%s: rank %d returned %u tokens where this rank dispatched %zu to it (the "
                       "ranks combined different dispatches)",
                       kCombine, static_cast<int>(r), hd.tokens, sentCount_[r]);
    for (size_t i = 0; i < sentCount_[r]; ++i) {
      const std::byte* p = slot + kMoeHeaderBytes + i * rec;
      if (int8) {
        float scale;
        std::memcpy(&scale, p, sizeof(float));
        dequantizeBlocks(strataInt8, p + sizeof(float), &scale, h, strataFloat32, tmp, h);
      } else {
        toFloat32(shape_.dtype, p, tmp, h);
      }
      float* acc =
          tokenAccum_.data() + static_cast<size_t>(sentTokens_[r * shape_.maxTokens + i]) * h;
      for (size_t j = 0; j < h; ++j) acc[j] += tmp[j];
    }
  }
  fromFloat32(shape_.dtype, tokenAccum_.data(), combined, numTokens_ * h);
  return Status::ok();
}

Status MoeBuffer::combine(const void* expertOut, void* combined) {
  if (!dispatched_)
    return makeError(strataInvalidUsage, "%s: the buffer's last dispatch did not complete",
                     kCombine);
  if (expertOut == nullptr && numRows_ > 0)
    return makeError(strataInvalidArgument,
                     "%s: expertOut is NULL where the dispatch delivered %zu rows", kCombine,
                     numRows_);
  packCombine(expertOut);
  if (shape_.nranks > 1) {
    const PlanPtr plan = moeExchangePlan("moe-combine", rank_, shape_.nranks,
                                         shape_.combineSlotBytes(), sendBytes_, recvBytes_);
    STRATA_CHECK(runMoePlan(comm_, run_, plan, "MoeCombine", combineSend_.data(),
                            combineRecv_.data(), numTokens_ * shape_.hidden * shape_.elemBytes()));
  }
  return unpackCombine(combined);
}

}  // namespace strata
