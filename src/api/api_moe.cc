// MoE expert parallelism: strataMoeBufferCreate/Destroy, strataMoeGetMaxRecvTokens,
// strataMoeGetLayout, strataMoeDispatch and strataMoeCombine. Handle and argument checks here;
// the work is in moe/.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>

#include "api/handles.h"
#include "base/config.h"
#include "base/dtype.h"
#include "moe/moe_buffer.h"
#include "moe/moe_layout.h"
#include "moe/moe_placement.h"
#include "moe/moe_timing.h"
#include "topology/topology.h"

using strata::Comm;
using strata::makeError;
using strata::MoeBuffer;
using strata::Status;
using strata::api::finish;
using strata::api::guard;

struct strataMoeBuffer {
  static constexpr uint64_t kMagic = 0x5354524154414d42ull;  // "STRATAMB"
  uint64_t magic = kMagic;
  strataComm_t comm = nullptr;
  std::unique_ptr<MoeBuffer> buffer;
  uint64_t id = 0;             // handle.internal[0]: which buffer a handle names
  uint64_t dispatchCalls = 0;  // handle.internal[1]: which dispatch
};

namespace {

// `commGone`: also accept a buffer whose communicator was destroyed (only to destroy it).
strata::Result<strataMoeBuffer*> checkBuffer(strataMoeBuffer_t b, const char* op,
                                             bool commGone = false) {
  if (b == nullptr) return makeError(strataInvalidArgument, "%s: buffer is NULL", op);
  if (!strata::api::isLiveHandle(b, strata::api::HandleKind::kMoeBuffer) ||
      b->magic != strataMoeBuffer::kMagic || !b->buffer)
    return makeError(strataInvalidArgument,
                     "%s: buffer is not a valid MoE buffer (never created or already destroyed)",
                     op);
  // The buffer refers to its communicator, whose memory is freed once it is destroyed.
  if (!commGone && !strata::api::isLiveHandle(b->comm, strata::api::HandleKind::kComm))
    return makeError(strataInvalidArgument,
                     "%s: buffer's communicator was destroyed or aborted (destroy the buffer)",
                     op);
  return b;
}

Status checkType(const char* op, const char* what, strataDataType_t got, strataDataType_t want) {
  if (got == want) return Status::ok();
  return makeError(strataInvalidArgument, "%s: %s %d (%s) does not match the buffer's dtype %s", op,
                   what, static_cast<int>(got),
                   strata::validType(got) ? strata::dtypeName(got) : "not a strataDataType_t",
                   strata::dtypeName(want));
}

Status checkPtr(const char* op, const char* what, const void* p, bool needed) {
  if (p == nullptr && needed) return makeError(strataInvalidArgument, "%s: %s is NULL", op, what);
  return Status::ok();
}

Status checkPlaced(const char* op, const MoeBuffer& b) {
  if (!b.route().empty()) return Status::ok();
  return makeError(strataInvalidUsage,
                   "%s: the buffer has %d slots for %d experts and no placement yet (call "
                   "strataMoeBufferSetPlacement first)",
                   op, b.shape().numSlots, b.shape().numExperts);
}

// Checks the buffer, its communicator and the stream, then runs `check`, then runs the work
// `makeWork` returns now, or queues it on the stream (pinning the communicator as a queued
// collective does). The work captures the checked values, never the caller's frame.
template <typename Check, typename MakeWork>
strataResult_t submit(const char* op, strataMoeBuffer_t handle, strataStream_t stream,
                      Check&& check, MakeWork&& makeWork) {
  return guard(op, [&]() -> strataResult_t {
    auto b = checkBuffer(handle, op);
    if (!b.isOk()) return finish(b.status());
    auto c = strata::api::checkComm(b.value()->comm, op, "the buffer's communicator");
    if (!c.isOk()) return finish(c.status());
    Comm* comm = c.value();
    strata::RankScope scope(comm->rank());
    auto s = strata::api::checkStream(stream, op);
    if (!s.isOk()) return finish(s.status(), comm);
    Status st = check(*b.value());
    if (!st.isOk()) return finish(st, comm);
    strata::api::ActiveCall active(comm);
    std::function<Status()> work = makeWork();
    if (s.value() == nullptr) return finish(work(), comm);
    comm->pending().fetch_add(1);
    s.value()->enqueue([comm, work = std::move(work)]() {
      strata::RankScope inner(comm->rank());
      Status r = work();
      if (!r.isOk()) comm->recordError(r);
      comm->pending().fetch_sub(1);
      return r;
    });
    return strataSuccess;
  });
}

}  // namespace

extern "C" {

strataResult_t strataMoeBufferCreate(strataComm_t comm, const strataMoeConfig_t* config,
                                     strataMoeBuffer_t* buffer) {
  const char* op = "strataMoeBufferCreate";
  return guard(op, [&]() -> strataResult_t {
    auto c = strata::api::checkComm(comm, op);
    if (!c.isOk()) return finish(c.status());
    if (buffer == nullptr)
      return finish(makeError(strataInvalidArgument, "%s: buffer is NULL", op), c.value());
    *buffer = nullptr;
    if (config == nullptr)
      return finish(makeError(strataInvalidArgument, "%s: config is NULL", op), c.value());
    auto b = MoeBuffer::create(*c.value(), *config);
    if (!b.isOk()) return finish(b.status(), c.value());
    auto h = std::make_unique<strataMoeBuffer>();
    h->comm = comm;
    h->buffer = std::move(b).value();
    h->id = reinterpret_cast<uintptr_t>(h.get()) ^ strataMoeBuffer::kMagic;
    *buffer = strata::api::publishHandle(std::move(h), strata::api::HandleKind::kMoeBuffer);
    return strataSuccess;
  });
}

strataResult_t strataMoeBufferDestroy(strataMoeBuffer_t buffer) {
  const char* op = "strataMoeBufferDestroy";
  return guard(op, [&]() -> strataResult_t {
    auto b = checkBuffer(buffer, op, /*commGone=*/true);
    if (!b.isOk()) return finish(b.status());
    strata::api::retireHandle(buffer, strata::api::HandleKind::kMoeBuffer);
    return strataSuccess;
  });
}

strataResult_t strataMoeBufferSetPlacement(strataMoeBuffer_t buffer, const int32_t* slotExpert,
                                           int numSlots) {
  const char* op = "strataMoeBufferSetPlacement";
  return guard(op, [&]() -> strataResult_t {
    auto b = checkBuffer(buffer, op);
    if (!b.isOk()) return finish(b.status());
    MoeBuffer& moe = *buffer->buffer;
    const strata::MoeShape& shape = moe.shape();
    if (numSlots != shape.numSlots)
      return finish(makeError(strataInvalidArgument,
                              "%s: numSlots %d differs from the buffer's config.numSlots %d", op,
                              numSlots, shape.numSlots),
                    &moe.comm());
    Status st = strata::checkPlacement(op, slotExpert, numSlots, shape.numExperts);
    if (!st.isOk()) return finish(st, &moe.comm());
    moe.setPlacement(slotExpert);
    return strataSuccess;
  });
}

strataResult_t strataMoePlacementCompute(const double* expertLoad, int numExperts, int nranks,
                                         int slotsPerRank, int32_t* slotExpert,
                                         double* maxMeanBefore, double* maxMeanAfter) {
  const char* op = "strataMoePlacementCompute";
  return guard(op, [&]() -> strataResult_t {
    if (slotExpert == nullptr)
      return finish(makeError(strataInvalidArgument, "%s: slotExpert is NULL", op));
    auto r = strata::computeEplb(expertLoad, numExperts, nranks, slotsPerRank);
    if (!r.isOk()) return finish(r.status());
    std::copy(r.value().slotExpert.begin(), r.value().slotExpert.end(), slotExpert);
    if (maxMeanBefore) *maxMeanBefore = r.value().maxMeanBefore;
    if (maxMeanAfter) *maxMeanAfter = r.value().maxMeanAfter;
    return strataSuccess;
  });
}

strataResult_t strataMoePlacementRoute(const char* topology, const int32_t* slotExpert,
                                       int numSlots, int numExperts, int nranks, int rank,
                                       int32_t* slotOfExpert) {
  const char* op = "strataMoePlacementRoute";
  return guard(op, [&]() -> strataResult_t {
    if (slotOfExpert == nullptr)
      return finish(makeError(strataInvalidArgument, "%s: slotOfExpert is NULL", op));
    if (nranks <= 0 || numSlots <= 0 || numSlots % nranks != 0)
      return finish(makeError(strataInvalidArgument,
                              "%s: numSlots %d is not a positive multiple of nranks %d", op,
                              numSlots, nranks));
    if (rank < 0 || rank >= nranks)
      return finish(
          makeError(strataInvalidArgument, "%s: rank %d is outside [0, %d)", op, rank, nranks));
    if (numExperts <= 0 || numExperts > numSlots)
      return finish(makeError(strataInvalidArgument,
                              "%s: numExperts %d is outside [1, numSlots %d]", op, numExperts,
                              numSlots));
    Status st = strata::checkPlacement(op, slotExpert, numSlots, numExperts);
    if (!st.isOk()) return finish(st);
    strata::Topology topo;  // no ranks: no host known
    if (topology != nullptr) {
      auto t = strata::resolveTopology(topology);
      if (!t.isOk()) return finish(t.status().context(op));
      if (t.value().nranks != nranks)
        return finish(makeError(strataInvalidArgument,
                                "%s: topology '%s' has %d ranks, not nranks %d", op, topology,
                                t.value().nranks, nranks));
      topo = std::move(t).value();
    }
    const std::vector<int32_t> route =
        strata::routeForRank(slotExpert, numSlots, numExperts, nranks, rank, topo);
    std::copy(route.begin(), route.end(), slotOfExpert);
    return strataSuccess;
  });
}

namespace {

// The flat route's tokensSent, and (tokensToGroup non-null) the two-level route's counts.
strataResult_t simTimingOnly(const char* op, const strataConfig_t* config,
                             const strataMoeConfig_t* moe, const size_t* tokensSent,
                             const int32_t* slotIdx, const size_t* numTokens,
                             strataSimResult_t* dispatch, strataSimResult_t* combine) {
  if (moe == nullptr) return finish(makeError(strataInvalidArgument, "%s: moe is NULL", op));
  if (tokensSent == nullptr && slotIdx == nullptr)
    return finish(makeError(strataInvalidArgument, "%s: %s is NULL", op,
                            numTokens ? "slotIdx" : "tokensSent"));
  if (slotIdx != nullptr && numTokens == nullptr)
    return finish(makeError(strataInvalidArgument, "%s: numTokens is NULL", op));
  auto cfg = strata::resolveConfig(config, nullptr);
  if (!cfg.isOk()) return finish(cfg.status().context(op));
  if (cfg.value().topoFile.empty())
    return finish(makeError(strataInvalidArgument,
                            "%s: no topology: set config->topoFile or STRATA_TOPO_FILE to a "
                            "preset (hccs-8, hccs-2x8, hccs-4x8, cm384) or a topology file",
                            op));
  auto topo = strata::resolveTopology(cfg.value().topoFile);
  if (!topo.isOk()) return finish(topo.status().context(op));
  auto shape = strata::makeMoeShape(*moe, topo.value().nranks);
  if (!shape.isOk()) return finish(shape.status());
  const strata::MoeShape& sh = shape.value();
  const auto n = static_cast<size_t>(sh.nranks);
  std::vector<size_t> sent, toGroup;
  if (slotIdx) {
    const auto k = static_cast<size_t>(sh.topk);
    const std::vector<int>& groupOf = topo.value().levels.size() > 1
                                          ? topo.value().levels[0].groupOf
                                          : std::vector<int>(n, 0);
    const size_t G = static_cast<size_t>(*std::max_element(groupOf.begin(), groupOf.end())) + 1;
    sent.assign(n * n, 0);
    toGroup.assign(n * G, 0);
    std::vector<uint8_t> inRank(n), inGroup(G);
    for (size_t s = 0; s < n; ++s) {
      if (numTokens[s] > sh.maxTokens)
        return finish(makeError(strataInvalidArgument,
                                "%s: numTokens[%zu] = %zu is above maxTokensPerRank %zu", op, s,
                                numTokens[s], sh.maxTokens));
      for (size_t t = 0; t < numTokens[s]; ++t) {
        std::fill(inRank.begin(), inRank.end(), 0);
        std::fill(inGroup.begin(), inGroup.end(), 0);
        for (size_t j = 0; j < k; ++j) {
          const int32_t e = slotIdx[(s * sh.maxTokens + t) * k + j];
          if (e < -1 || e >= sh.numSlots)
            return finish(makeError(strataInvalidArgument,
                                    "%s: slotIdx[%zu][%zu][%zu] = %d is out of range [-1, %d)",
                                    op, s, t, j, e, sh.numSlots));
          if (e < 0) continue;
          const auto r = static_cast<size_t>(sh.rankOf(e));
          inRank[r] = 1;
          inGroup[static_cast<size_t>(groupOf[r])] = 1;
        }
        for (size_t d = 0; d < n; ++d) sent[s * n + d] += inRank[d];
        for (size_t h = 0; h < G; ++h) toGroup[s * G + h] += inGroup[h];
      }
    }
    tokensSent = sent.data();
  }
  auto r = strata::evaluateMoeTimingOnly(topo.value(), sh, tokensSent,
                                         toGroup.empty() ? nullptr : toGroup.data());
  if (!r.isOk()) return finish(r.status().context(op));
  auto fill = [&](const strata::SimResult& s, strataSimResult_t* out) {
    if (!out) return;
    std::memset(out, 0, sizeof(*out));
    out->nranks = topo.value().nranks;
    out->numLevels = static_cast<int>(topo.value().levels.size());
    out->simTimeUs = static_cast<double>(s.maxEndPs) / 1e6;
    out->minRankTimeUs = static_cast<double>(s.minEndPs) / 1e6;
    for (int l = 0; l < STRATA_MAX_LEVELS; ++l) out->bytesSent[l] = s.total.bytesPerLevel[l];
    out->syncs = s.total.syncs;
    out->steps = s.total.steps;
    std::strncpy(out->algo, s.algo.c_str(), sizeof(out->algo) - 1);
  };
  fill(r.value().dispatch, dispatch);
  fill(r.value().combine, combine);
  return strataSuccess;
}

}  // namespace

strataResult_t strataMoeSimTimingOnly(const strataConfig_t* config, const strataMoeConfig_t* moe,
                                      const size_t* tokensSent, strataSimResult_t* dispatch,
                                      strataSimResult_t* combine) {
  const char* op = "strataMoeSimTimingOnly";
  return guard(op, [&]() -> strataResult_t {
    if (tokensSent == nullptr)
      return finish(makeError(strataInvalidArgument, "%s: tokensSent is NULL", op));
    return simTimingOnly(op, config, moe, tokensSent, nullptr, nullptr, dispatch, combine);
  });
}

strataResult_t strataMoeSimTimingOnlyRouted(const strataConfig_t* config,
                                            const strataMoeConfig_t* moe, const int32_t* slotIdx,
                                            const size_t* numTokens, strataSimResult_t* dispatch,
                                            strataSimResult_t* combine) {
  const char* op = "strataMoeSimTimingOnlyRouted";
  return guard(op, [&]() -> strataResult_t {
    if (slotIdx == nullptr)
      return finish(makeError(strataInvalidArgument, "%s: slotIdx is NULL", op));
    return simTimingOnly(op, config, moe, nullptr, slotIdx, numTokens, dispatch, combine);
  });
}

strataResult_t strataMoeGetMaxRecvTokens(strataMoeBuffer_t buffer, size_t* maxRecvTokens) {
  const char* op = "strataMoeGetMaxRecvTokens";
  return guard(op, [&]() -> strataResult_t {
    auto b = checkBuffer(buffer, op);
    if (!b.isOk()) return finish(b.status());
    if (maxRecvTokens == nullptr)
      return finish(makeError(strataInvalidArgument, "%s: maxRecvTokens is NULL", op));
    *maxRecvTokens = buffer->buffer->shape().maxRecvRows();
    return strataSuccess;
  });
}

strataResult_t strataMoeGetLayout(strataMoeBuffer_t buffer, const void* topkIdx,
                                  strataDataType_t idxType, size_t numTokens, int* numTokensPerRank,
                                  int* numTokensPerExpert, uint8_t* isTokenInRank) {
  const char* op = "strataMoeGetLayout";
  return guard(op, [&]() -> strataResult_t {
    auto b = checkBuffer(buffer, op);
    if (!b.isOk()) return finish(b.status());
    const strata::MoeShape& shape = buffer->buffer->shape();
    const strata::TopkIds ids{topkIdx, idxType, numTokens, shape.topk};
    Status st = strata::checkTopkIds(op, shape, ids);
    if (st.isOk()) st = checkPlaced(op, *buffer->buffer);
    if (!st.isOk()) return finish(st, &buffer->buffer->comm());
    strata::computeMoeLayout(shape, ids, buffer->buffer->route().data(), numTokensPerRank,
                             numTokensPerExpert, isTokenInRank);
    return strataSuccess;
  });
}

strataResult_t strataMoeDispatch(strataMoeBuffer_t buffer, const void* x, strataDataType_t xType,
                                 size_t numTokens, const void* topkIdx, strataDataType_t idxType,
                                 const float* topkWeights, void* recvX, int32_t* recvTopkIdx,
                                 float* recvTopkWeights, int* recvCountsPerExpert,
                                 size_t* numRecvTokens, strataMoeHandle_t* handle,
                                 strataStream_t stream) {
  const char* op = "strataMoeDispatch";
  MoeBuffer* moe = nullptr;
  uint64_t gen = 0;
  strata::TopkIds ids;
  strata::MoeDispatchOutputs out{recvX, recvTopkIdx, recvTopkWeights, recvCountsPerExpert,
                                 numRecvTokens};
  auto check = [&](strataMoeBuffer& b) -> Status {
    moe = b.buffer.get();
    const strata::MoeShape& shape = moe->shape();
    STRATA_CHECK(checkType(op, "xType", xType, shape.dtype));
    ids = strata::TopkIds{topkIdx, idxType, numTokens, shape.topk};
    STRATA_CHECK(strata::checkTopkIds(op, shape, ids));
    STRATA_CHECK(checkPlaced(op, *moe));
    STRATA_CHECK(checkPtr(op, "x", x, numTokens > 0));
    STRATA_CHECK(checkPtr(op, "topkWeights", topkWeights, numTokens > 0));
    STRATA_CHECK(checkPtr(op, "recvX", recvX, true));
    STRATA_CHECK(checkPtr(op, "recvCountsPerExpert", recvCountsPerExpert, true));
    ++b.dispatchCalls;
    gen = b.dispatchCalls;
    moe->board().issue(gen);
    if (handle) *handle = strataMoeHandle_t{{b.id, b.dispatchCalls}};
    return Status::ok();
  };
  return submit(op, buffer, stream, check, [&]() -> std::function<Status()> {
    return [moe, x, ids, topkWeights, out, gen]() {
      return moe->dispatch(x, ids, topkWeights, out, gen);
    };
  });
}

}  // extern "C"

namespace {

Status checkHandle(const char* op, const strataMoeBuffer& b, const strataMoeHandle_t* handle) {
  if (handle == nullptr) return makeError(strataInvalidArgument, "%s: handle is NULL", op);
  if (handle->internal[0] != b.id)
    return makeError(strataInvalidArgument,
                     "%s: handle is not a handle of this buffer's dispatches", op);
  if (handle->internal[1] != b.dispatchCalls)
    return makeError(strataInvalidUsage,
                     "%s: handle belongs to an earlier dispatch (a handle is valid until the "
                     "buffer's next dispatch)",
                     op);
  return Status::ok();
}

strataResult_t combineCall(const char* op, strataMoeBuffer_t buffer,
                           const strataMoeHandle_t* handle, const void* expertOut,
                           strataDataType_t type, void* combinedX, strataStream_t stream,
                           bool pipelined) {
  MoeBuffer* moe = nullptr;
  auto check = [&](strataMoeBuffer& b) -> Status {
    moe = b.buffer.get();
    STRATA_CHECK(checkHandle(op, b, handle));
    STRATA_CHECK(checkType(op, "type", type, moe->shape().dtype));
    STRATA_CHECK(checkPtr(op, "combinedX", combinedX, true));
    if (pipelined) STRATA_CHECK(checkPtr(op, "expertOut", expertOut, true));
    return Status::ok();
  };
  return submit(op, buffer, stream, check, [&]() -> std::function<Status()> {
    return [moe, expertOut, combinedX, pipelined]() {
      return moe->combine(expertOut, combinedX, pipelined);
    };
  });
}

}  // namespace

extern "C" {

strataResult_t strataMoeCombine(strataMoeBuffer_t buffer, const strataMoeHandle_t* handle,
                                const void* expertOut, strataDataType_t type, void* combinedX,
                                strataStream_t stream) {
  return combineCall("strataMoeCombine", buffer, handle, expertOut, type, combinedX, stream, false);
}

strataResult_t strataMoeCombinePipelined(strataMoeBuffer_t buffer, const strataMoeHandle_t* handle,
                                         const void* expertOut, strataDataType_t type,
                                         void* combinedX, strataStream_t stream) {
  return combineCall("strataMoeCombinePipelined", buffer, handle, expertOut, type, combinedX,
                     stream, true);
}

strataResult_t strataMoeCombineRowsReady(strataMoeBuffer_t buffer, const strataMoeHandle_t* handle,
                                         size_t firstRow, size_t numRows) {
  const char* op = "strataMoeCombineRowsReady";
  return guard(op, [&]() -> strataResult_t {
    auto b = checkBuffer(buffer, op);
    if (!b.isOk()) return finish(b.status());
    MoeBuffer& moe = *buffer->buffer;
    Status st = checkHandle(op, *buffer, handle);
    if (st.isOk()) st = moe.board().rowsReady(op, firstRow, numRows);
    return st.isOk() ? strataSuccess : finish(st, &moe.comm());
  });
}

strataResult_t strataMoeBufferSetChunkTokens(strataMoeBuffer_t buffer, size_t chunkTokens) {
  const char* op = "strataMoeBufferSetChunkTokens";
  return guard(op, [&]() -> strataResult_t {
    auto b = checkBuffer(buffer, op);
    if (!b.isOk()) return finish(b.status());
    MoeBuffer& moe = *buffer->buffer;
    const size_t maxTokens = moe.shape().maxTokens;
    moe.setChunkTokens(chunkTokens == 0 ? strata::defaultMoeChunkTokens(maxTokens)
                                        : std::min(chunkTokens, maxTokens));
    return strataSuccess;
  });
}

strataResult_t strataMoeBufferGetChunkTokens(strataMoeBuffer_t buffer, size_t* chunkTokens) {
  const char* op = "strataMoeBufferGetChunkTokens";
  return guard(op, [&]() -> strataResult_t {
    auto b = checkBuffer(buffer, op);
    if (!b.isOk()) return finish(b.status());
    if (chunkTokens == nullptr)
      return finish(makeError(strataInvalidArgument, "%s: chunkTokens is NULL", op),
                    &buffer->buffer->comm());
    *chunkTokens = buffer->buffer->chunkTokens();
    return strataSuccess;
  });
}

strataResult_t strataMoeDispatchNextChunk(strataMoeBuffer_t buffer, int localExpert, int wait,
                                          strataMoeChunk_t* chunk) {
  const char* op = "strataMoeDispatchNextChunk";
  return guard(op, [&]() -> strataResult_t {
    auto b = checkBuffer(buffer, op);
    if (!b.isOk()) return finish(b.status());
    MoeBuffer& moe = *buffer->buffer;
    if (chunk == nullptr)
      return finish(makeError(strataInvalidArgument, "%s: chunk is NULL", op), &moe.comm());
    const int lx = moe.shape().localExperts;
    if (localExpert < -1 || localExpert >= lx)
      return finish(makeError(strataInvalidArgument,
                              "%s: localExpert %d is outside [-1, %d) (the buffer's local slots; "
                              "-1 for any)",
                              op, localExpert, lx),
                    &moe.comm());
    if (buffer->dispatchCalls == 0)
      return finish(makeError(strataInvalidUsage, "%s: the buffer has not dispatched yet", op),
                    &moe.comm());
    const strata::RunContext ctx = moe.comm().runContext();
    strata::MoeChunk c;
    auto r = moe.board().next(localExpert, wait != 0, &c, ctx.abort, ctx.timeoutMs);
    if (!r.isOk()) {
      if (r.status().code() == strataInProgress) return strataInProgress;
      return finish(r.status().context(op), &moe.comm());
    }
    *chunk = strataMoeChunk_t{c.localExpert, c.firstRow, c.numRows};
    return strataSuccess;
  });
}

}  // extern "C"
