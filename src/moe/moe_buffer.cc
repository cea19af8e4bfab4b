#include "moe/moe_buffer.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <numeric>

#include "moe/moe_placement.h"
#include "moe/moe_plans.h"
#include "moe/moe_route.h"
#include "moe/moe_run.h"
#include "plan/call_tag.h"
#include "reduce/quantize.h"
#include "reduce/reduce.h"

namespace strata {

size_t defaultMoeChunkTokens(size_t maxTokens) {
  return std::min(maxTokens, std::max<size_t>(16, (maxTokens + 3) / 4));
}

MoeBuffer::MoeBuffer(Comm& comm, MoeShape shape, std::unique_ptr<MoeWindow> window,
                     std::optional<TwoLevels> levels)
    : comm_(comm),
      shape_(shape),
      rank_(comm.rank()),
      window_(std::move(window)),
      chunkTokens_(defaultMoeChunkTokens(shape.maxTokens)),
      board_(shape.nranks, shape.localExperts, shape.maxRecvRows(),
             static_cast<size_t>(shape.nranks) * shape.maxTokens),
      levels_(std::move(levels)) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t t = shape_.maxTokens;
  const size_t h = shape_.hidden;
  const size_t lx = static_cast<size_t>(shape_.localExperts);
  if (window_) {
    dispatchArea_ = window_->dispatchArea(rank_);
    combineArea_ = window_->combineArea(rank_);
  } else {
    // The two-level route adds a group message slot per group to the dispatch areas and a
    // slot per group for the group sums combine brings back.
    const size_t groups = levels_ ? static_cast<size_t>(levels_->groups) : 0;
    dispatchSend_.resize(groups ? groupAt(levels_->groups) : n * shape_.dispatchSlotBytes());
    dispatchRecv_.resize(dispatchSend_.size());
    combineSend_.resize(n * shape_.combineSlotBytes());
    combineRecv_.resize((n + groups) * shape_.combineSlotBytes());
    dispatchArea_ = dispatchRecv_.data();
    combineArea_ = combineRecv_.data();
  }
  landed_.resize(n);
  unpacked_.resize(n);
  if (levels_) {
    const size_t groups = static_cast<size_t>(levels_->groups);
    const size_t L = static_cast<size_t>(levels_->size);
    groupOf_.resize(n);
    indexOf_.resize(n);
    for (int g = 0; g < levels_->groups; ++g)
      for (int j = 0; j < levels_->size; ++j) {
        groupOf_[static_cast<size_t>(levels_->at(g, j))] = g;
        indexOf_[static_cast<size_t>(levels_->at(g, j))] = j;
      }
    inGroup_.resize(groups);
    groupSent_.resize(groups);
    groupTokens_.resize(groups * t);
    groupRecvTokens_.resize(groups);
    fwdCount_.resize(groups * L);
    fwdIdx_.resize(groups * t * L);
    fwdRounds_.resize(n);
  }
  accRow_.resize(h);
  tokenAccum_.resize(t * h);
  rowFloat_.resize(h);
  rowQuant_.resize(h);
  sentTokens_.resize(n * t);
  sentCount_.resize(n);
  packedCount_.resize(n);
  tokenPos_.resize(t * n);
  tokenRanks_.resize(t);
  partsLeft_.resize(t);
  summed_.resize(n);
  recvCount_.resize(n);
  recvBase_.resize(n);
  rowWeight_.resize(shape_.maxRecvRows());
  tokenRows_.resize(n * t * static_cast<size_t>(shape_.topk));
  tokenRowCount_.resize(n * t);
  pairFirst_.resize(n * lx);
  pairCount_.resize(n * lx);
  pairCursor_.resize(n * lx);
  destSlotRows_.resize(n * lx);
  sends_.resize(n);
  recvs_.resize(n);
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
  STRATA_ASSIGN(std::optional<TwoLevels> levels,
                moeRouteLevels(comm.topology(), shape, comm.rank()));
  // Direct puts serve one host; the two-level route spans several (never both).
  std::unique_ptr<MoeWindow> window;
  if (!levels) {
    STRATA_ASSIGN(std::unique_ptr<MoeWindow> created, MoeWindow::create(comm, shape));
    window = std::move(created);
  }
  return std::unique_ptr<MoeBuffer>(
      new MoeBuffer(comm, shape, std::move(window), std::move(levels)));
}

std::byte* MoeBuffer::dispatchOut(int r) {
  const size_t slot = shape_.dispatchSlotBytes();
  if (r == rank_) return dispatchIn(r);
  if (window_) return window_->dispatchArea(r) + static_cast<size_t>(rank_) * slot;
  return dispatchSend_.data() + static_cast<size_t>(r) * slot;
}

std::byte* MoeBuffer::combineOut(int r) {
  const size_t slot = shape_.combineSlotBytes();
  if (r == rank_) return combineIn(r);
  if (window_) return window_->combineArea(r) + static_cast<size_t>(rank_) * slot;
  return combineSend_.data() + static_cast<size_t>(r) * slot;
}

Status MoeBuffer::syncPeers(const MoeLeg& leg) {
  return runMoePlan(comm_, run_, moeSyncPlan(leg.algo, rank_, shape_.nranks), leg.collName,
                    leg.call, nullptr, nullptr, 0);
}

MoeWireHeader MoeBuffer::wireHeader(uint32_t magic, strataMoeQuant_t quant, size_t record) const {
  MoeWireHeader h = moeHeader(shape_, magic, quant, 0, record);
  h.chunkTokens = static_cast<uint32_t>(runChunk_);
  return h;
}

bool MoeBuffer::roundChunk(size_t chunk, size_t base, size_t header, size_t record, size_t tokens,
                           bool upTo, MoeTransfer* out) const {
  if (chunk == 0 && upTo) {
    *out = MoeTransfer{base, header + runChunk_ * record, true};
    return true;
  }
  if (chunk >= chunksOf(tokens)) return false;
  *out = chunkAt(base, header, record, tokens, chunk);
  return true;
}

MoeTransfer MoeBuffer::chunkAt(size_t base, size_t header, size_t record, size_t tokens,
                               size_t chunk) const {
  const size_t first = chunk * runChunk_;
  const size_t count = tokens > first ? std::min(runChunk_, tokens - first) : 0;
  MoeTransfer t;
  t.offset = base + (chunk == 0 ? 0 : header + first * record);
  t.bytes = (chunk == 0 ? header : 0) + count * record;
  return t;
}

// Marks in inRank_ the ranks token t goes to and counts its rows per destination slot.
void MoeBuffer::countToken(const TopkIds& ids, size_t t) {
  const size_t lx = static_cast<size_t>(shape_.localExperts);
  std::fill(inRank_.begin(), inRank_.end(), 0);
  for (int j = 0; j < shape_.topk; ++j) {
    const int64_t e = ids.at(t, j);
    if (e < 0) continue;
    const int slot = route_[static_cast<size_t>(e)];
    const size_t dst = static_cast<size_t>(shape_.rankOf(slot));
    inRank_[dst] = 1;
    ++destSlotRows_[dst * lx + static_cast<size_t>(shape_.localOf(slot))];
  }
}

// Counts what each rank gets (tokens, and rows per local slot) and writes every message's header,
// so round 0 can carry it before the records are all packed.
void MoeBuffer::countDispatch(const TopkIds& ids) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t lx = static_cast<size_t>(shape_.localExperts);
  std::fill(sentCount_.begin(), sentCount_.end(), 0);
  std::fill(packedCount_.begin(), packedCount_.end(), 0);
  std::fill(destSlotRows_.begin(), destSlotRows_.end(), 0);
  packedTokens_ = 0;
  for (size_t t = 0; t < ids.tokens; ++t) {
    countToken(ids, t);
    uint32_t ranks = 0;
    for (size_t r = 0; r < n; ++r) {
      sentCount_[r] += inRank_[r];
      ranks += inRank_[r];
      tokenPos_[t * n + r] = -1;
    }
    tokenRanks_[t] = ranks;
  }
  MoeWireHeader hd = wireHeader(kMoeDispatchMagic, shape_.dispatchQuant,
                                shape_.dispatchRecordBytes());
  for (size_t r = 0; r < n; ++r) {
    hd.tokens = static_cast<uint32_t>(sentCount_[r]);
    std::byte* slot = dispatchOut(static_cast<int>(r));
    writeMoeHeader(slot, hd);
    std::memcpy(slot + kMoeHeaderBytes, destSlotRows_.data() + r * lx, lx * sizeof(uint32_t));
  }
}

// Writes each token's record once into the message of every rank holding one of its experts
// (this rank's own straight into its receive slot), quantising it once when the leg is int8,
// token by token until every message holds its first (chunk + 1) x chunk tokens (or all): round
// `chunk` can then move them while later tokens are still being packed.
void MoeBuffer::packDispatchThrough(size_t chunk, const void* x, const TopkIds& ids,
                                    const float* weights) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t h = shape_.hidden;
  const size_t rowBytes = h * shape_.elemBytes();
  const size_t rec = shape_.dispatchRecordBytes();
  const size_t hdr = shape_.dispatchHeaderBytes();
  const size_t through = (chunk + 1) * runChunk_;
  auto behind = [&]() {
    for (size_t r = 0; r < n; ++r)
      if (packedCount_[r] < std::min(sentCount_[r], through)) return true;
    return false;
  };
  for (; packedTokens_ < ids.tokens && behind(); ++packedTokens_) {
    const size_t t = packedTokens_;
    std::fill(inRank_.begin(), inRank_.end(), 0);
    for (int j = 0; j < shape_.topk; ++j) {
      const int64_t e = ids.at(t, j);
      if (e >= 0) inRank_[static_cast<size_t>(shape_.rankOf(route_[static_cast<size_t>(e)]))] = 1;
    }
    const std::byte* row = static_cast<const std::byte*>(x) + t * rowBytes;
    bool quantised = false;
    for (size_t r = 0; r < n; ++r) {
      if (!inRank_[r]) continue;
      std::byte* p = dispatchOut(static_cast<int>(r)) + hdr + packedCount_[r] * rec;
      tokenPos_[t * n + r] = static_cast<int32_t>(packedCount_[r]);
      sentTokens_[r * shape_.maxTokens + packedCount_[r]++] = static_cast<int32_t>(t);
      writeDispatchRecord(p, ids, weights, t, row, &quantised);
    }
  }
}

// Token t's record at p: its expert ids, their slots, its weights and its row (quantised to
// int8 on an int8 leg: once per token, into rowQuant_, while *quantised is false).
void MoeBuffer::writeDispatchRecord(std::byte* p, const TopkIds& ids, const float* weights,
                                    size_t t, const std::byte* row, bool* quantised) {
  const size_t k = static_cast<size_t>(shape_.topk);
  const size_t h = shape_.hidden;
  auto* idsOut = reinterpret_cast<int32_t*>(p);
  for (int j = 0; j < shape_.topk; ++j) {
    const int64_t e = ids.at(t, j);
    idsOut[j] = static_cast<int32_t>(e);
    idsOut[k + static_cast<size_t>(j)] = e >= 0 ? route_[static_cast<size_t>(e)] : -1;
  }
  std::memcpy(p + 2 * k * sizeof(int32_t), weights + t * k, k * sizeof(float));
  std::byte* payload = p + k * (2 * sizeof(int32_t) + sizeof(float));
  if (shape_.dispatchQuant != strataMoeQuantInt8) {
    std::memcpy(payload, row, h * shape_.elemBytes());
    return;
  }
  if (!*quantised) {
    quantizeBlocks(shape_.dtype, row, strataInt8, rowQuant_.data(), &rowScale_, h, h);
    *quantised = true;
  }
  std::memcpy(payload, &rowScale_, sizeof(float));
  std::memcpy(payload + sizeof(float), rowQuant_.data(), h);
}

// Every peer's header has landed: where each (source, slot) pair's rows go (grouped by local
// slot, then by source), published so the caller can wait for them.
Status MoeBuffer::readLayout(const MoeDispatchOutputs& out) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t lx = static_cast<size_t>(shape_.localExperts);
  const MoeWireHeader mine =
      wireHeader(kMoeDispatchMagic, shape_.dispatchQuant, shape_.dispatchRecordBytes());
  size_t base = 0;
  for (size_t s = 0; s < n; ++s) {
    const std::byte* slot = dispatchIn(static_cast<int>(s));
    const MoeWireHeader hd = readMoeHeader(slot);
    STRATA_CHECK(checkMoeHeader(kMoeDispatchOp, hd, mine, static_cast<int>(s), shape_.maxTokens));
    recvCount_[s] = hd.tokens;
    recvBase_[s] = base;
    base += hd.tokens;
    for (size_t e = 0; e < lx; ++e) {
      uint32_t rows = 0;
      std::memcpy(&rows, slot + kMoeHeaderBytes + e * sizeof(uint32_t), sizeof(rows));
      if (rows > hd.tokens * static_cast<size_t>(shape_.topk))
        return makeError(strataInvalidUsage,
                         "%s: rank %d announced %u rows for local slot %zu from %u tokens",
                         kMoeDispatchOp, static_cast<int>(s), rows, e, hd.tokens);
      pairCount_[s * lx + e] = rows;
    }
  }
  size_t total = 0;
  for (size_t e = 0; e < lx; ++e) {
    size_t rows = 0;
    for (size_t s = 0; s < n; ++s) {
      pairFirst_[s * lx + e] = total + rows;
      rows += pairCount_[s * lx + e];
    }
    out.recvCountsPerExpert[e] = static_cast<int>(rows);
    total += rows;
  }
  if (total > shape_.maxRecvRows())
    return makeError(strataInvalidUsage,
                     "%s: the ranks announced %zu rows for this rank, more than the %zu the buffer "
                     "holds (a token listing one expert twice?)",
                     kMoeDispatchOp, total, shape_.maxRecvRows());
  std::fill(pairCursor_.begin(), pairCursor_.end(), 0);
  std::fill_n(tokenRowCount_.begin(), base, 0);
  numRows_ = total;
  if (out.numRecvTokens) *out.numRecvTokens = total;
  board_.publishLayout(pairFirst_, pairCount_, total);
  return Status::ok();
}

// Places records [first, last) of source s where their rows belong: a token holding several of
// this rank's slots arrived once and becomes one row per slot. Rows are published as chunk
// (s, record / chunk size), the chunks combine sends back.
Status MoeBuffer::unpackRange(size_t s, size_t first, size_t last, const MoeDispatchOutputs& out) {
  const size_t k = static_cast<size_t>(shape_.topk);
  const size_t h = shape_.hidden;
  const size_t lx = static_cast<size_t>(shape_.localExperts);
  const size_t rowBytes = h * shape_.elemBytes();
  const size_t rec = shape_.dispatchRecordBytes();
  const size_t hdr = shape_.dispatchHeaderBytes();
  const bool int8 = shape_.dispatchQuant == strataMoeQuantInt8;
  auto* recvX = static_cast<std::byte*>(out.recvX);
  {
    const std::byte* slot = dispatchIn(static_cast<int>(s));
    for (size_t i = first; i < last; ++i) {
      const std::byte* p = slot + hdr + i * rec;
      const auto* ids = reinterpret_cast<const int32_t*>(p);
      const int32_t* slots = ids + k;
      const auto* w = reinterpret_cast<const float*>(p + 2 * k * sizeof(int32_t));
      const std::byte* payload = p + k * (2 * sizeof(int32_t) + sizeof(float));
      const size_t tok = recvBase_[s] + i;
      int32_t* rowsOfToken = tokenRows_.data() + tok * k;
      int32_t& nrows = tokenRowCount_[tok];
      for (size_t j = 0; j < k; ++j) {
        const int32_t e = slots[j];
        if (e < 0 || e >= shape_.numSlots || shape_.rankOf(e) != rank_) continue;
        const size_t pair = s * lx + static_cast<size_t>(shape_.localOf(e));
        if (pairCursor_[pair] >= pairCount_[pair])
          return makeError(strataInvalidUsage,
                           "%s: rank %d sent more rows for local slot %d than its header announced",
                           kMoeDispatchOp, static_cast<int>(s), shape_.localOf(e));
        const size_t row = pairFirst_[pair] + pairCursor_[pair]++;
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
        rowWeight_[row] = w[j];
        // Keep the token's rows ascending: combine sums them in row order.
        int32_t at = nrows++;
        while (at > 0 && rowsOfToken[at - 1] > static_cast<int32_t>(row)) {
          rowsOfToken[at] = rowsOfToken[at - 1];
          --at;
        }
        rowsOfToken[at] = static_cast<int32_t>(row);
        board_.rowLanded(row, chunkId(s, i / runChunk_));
      }
    }
    for (size_t e = 0; e < lx; ++e)
      board_.landed(static_cast<int>(s), static_cast<int>(e), pairCursor_[s * lx + e]);
    board_.wake();
    board_.yieldToCaller();
  }
  return Status::ok();
}

Status MoeBuffer::unpackLanded(const MoeDispatchOutputs& out) {
  for (size_t s = 0; s < static_cast<size_t>(shape_.nranks); ++s) {
    if (landed_[s] > recvCount_[s])
      return makeError(strataInvalidUsage,
                       "%s: %zu records of rank %zu landed where its header announced %zu",
                       kMoeDispatchOp, landed_[s], s, recvCount_[s]);
    if (landed_[s] == unpacked_[s]) continue;
    STRATA_CHECK(unpackRange(s, unpacked_[s], landed_[s], out));
    unpacked_[s] = landed_[s];
  }
  return Status::ok();
}

Status MoeBuffer::dispatch(const void* x, const TopkIds& ids, const float* weights,
                           const MoeDispatchOutputs& out, uint64_t gen) {
  board_.begin(gen);
  Status s = runDispatch(x, ids, weights, out);
  if (!s.isOk()) board_.fail(s);
  return s;
}

// Round c moves chunk c of every message (the first chunk carries the header; its receive takes
// at most one chunk, since no count precedes the payload); then chunk c of every source is
// unpacked and published while round c + 1 moves.
Status MoeBuffer::runDispatch(const void* x, const TopkIds& ids, const float* weights,
                              const MoeDispatchOutputs& out) {
  dispatched_ = false;
  numTokens_ = ids.tokens;
  runChunk_ = std::max<size_t>(1, std::min(chunkTokens_, shape_.maxTokens));
  MoeLeg leg;
  leg.algo = window_ ? "moe-dispatch-direct" : "moe-dispatch";
  leg.collName = "MoeDispatch";
  leg.call = comm_.nextCallTag(static_cast<uint8_t>(CallKind::kMoeDispatch));
  leg.slotBytes = shape_.dispatchSlotBytes();
  leg.header = shape_.dispatchHeaderBytes();
  leg.record = shape_.dispatchRecordBytes();
  leg.sendTokens = &sentCount_;
  leg.recvTokens = &recvCount_;
  leg.firstRecvUpTo = true;
  leg.sendStage = dispatchSend_.data();
  leg.recvArea = dispatchRecv_.data();
  leg.callBytes = ids.tokens * shape_.hidden * shape_.elemBytes();
  std::fill(landed_.begin(), landed_.end(), 0);
  std::fill(unpacked_.begin(), unpacked_.end(), 0);
  if (levels_) {
    packHierDispatch(x, ids, weights);
    STRATA_CHECK(runHierDispatch(out, leg.call, leg.callBytes));
  } else {
    STRATA_CHECK(runFlatDispatch(leg, x, ids, weights, out));
  }
  for (size_t i = 0; i < pairCursor_.size(); ++i)
    if (pairCursor_[i] != pairCount_[i])
      return makeError(strataInvalidUsage,
                       "%s: rank %zu sent %zu rows for local slot %zu where its header announced "
                       "%zu",
                       kMoeDispatchOp, i / static_cast<size_t>(shape_.localExperts), pairCursor_[i],
                       i % static_cast<size_t>(shape_.localExperts), pairCount_[i]);
  dispatched_ = true;
  return Status::ok();
}

Status MoeBuffer::runFlatDispatch(const MoeLeg& leg, const void* x, const TopkIds& ids,
                                  const float* weights, const MoeDispatchOutputs& out) {
  if (window_) STRATA_CHECK(syncPeers(leg));
  countDispatch(ids);
  auto pack = [&](size_t c) {
    packDispatchThrough(c, x, ids, weights);
    return Status::ok();
  };
  return runRounds(leg, pack, [&](size_t c) {
    if (c == 0) STRATA_CHECK(readLayout(out));
    for (size_t s = 0; s < landed_.size(); ++s)
      landed_[s] = std::min(recvCount_[s], (c + 1) * runChunk_);
    return unpackLanded(out);
  });
}

// Round c moves chunk c of every message of the leg: to peer p chunk c of the sendTokens[p]
// records of send slot p, from peer p chunk c of the recvTokens[p] records into receive slot p
// (round 0's receives take at most a header and one chunk when the leg says the counts are not
// known yet: they arrive with it). Rounds go on while any message has a chunk left or this
// rank's own rows (recvCount_[me], written in place) have one, and at least one round runs.
// `before` prepares round c's sends, `after` consumes its receives; either may be null.
Status MoeBuffer::runRounds(const MoeLeg& leg, const std::function<Status(size_t)>& before,
                            const std::function<Status(size_t)>& after) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t me = static_cast<size_t>(rank_);
  const std::vector<size_t>& sendTokens = *leg.sendTokens;
  const std::vector<size_t>& recvTokens = *leg.recvTokens;
  for (size_t c = 0;; ++c) {
    bool any = c == 0 || c < chunksOf(recvCount_[me]);
    for (size_t r = 0; r < n; ++r) {
      sends_[r] = recvs_[r] = MoeTransfer{};
      if (r == me) continue;
      const size_t base = r * leg.slotBytes;
      any |= roundChunk(c, base, leg.header, leg.record, sendTokens[r], false, &sends_[r]);
      any |= roundChunk(c, base, leg.header, leg.record, recvTokens[r], leg.firstRecvUpTo,
                        &recvs_[r]);
    }
    if (!any) break;
    if (before) STRATA_CHECK(before(c));
    if (n > 1) {
      const PlanPtr plan = window_
                               ? moeDirectRoundPlan(leg.algo, rank_, shape_.nranks, sends_, recvs_)
                               : moeRoundPlan(leg.algo, rank_, shape_.nranks, sends_, recvs_);
      if (plan)
        STRATA_CHECK(runMoePlan(comm_, run_, plan, leg.collName, leg.call, leg.sendStage,
                                leg.recvArea, c == 0 ? leg.callBytes : 0));
    }
    if (after) STRATA_CHECK(after(c));
  }
  return Status::ok();
}

// Sums each token's rows in chunk `chunk` of every source, weighted, in float32 in row order,
// and writes one record per token into the message back to its source rank (rounded to the
// dtype once, or quantised to int8).
void MoeBuffer::packCombineChunk(size_t chunk, const void* expertOut) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t k = static_cast<size_t>(shape_.topk);
  const size_t h = shape_.hidden;
  const size_t rowBytes = h * shape_.elemBytes();
  const size_t rec = shape_.combineRecordBytes();
  const auto* in = static_cast<const std::byte*>(expertOut);
  float* acc = accRow_.data();
  float* tmp = rowFloat_.data();
  for (size_t s = 0; s < n; ++s) {
    if (chunk >= chunksOf(recvCount_[s])) continue;
    const int src = static_cast<int>(s);
    // Two-level route: a source of another group whose gateway is this rank is reduced here.
    const bool gateway = remote(s) && indexOf_[s] == levels_->i;
    std::byte* slot = gateway ? combineIn(src) : combineOut(src);
    if (chunk == 0) {
      MoeWireHeader hd = wireHeader(kMoeCombineMagic, shape_.combineQuant, rec);
      hd.tokens = static_cast<uint32_t>(recvCount_[s]);
      writeMoeHeader(slot, hd);
    }
    const size_t first = chunk * runChunk_;
    const size_t last = std::min(recvCount_[s], first + runChunk_);
    for (size_t i = first; i < last; ++i) {
      const size_t tok = recvBase_[s] + i;
      std::fill_n(acc, h, 0.0f);
      const int32_t* rows = tokenRows_.data() + tok * k;
      for (int32_t q = 0; q < tokenRowCount_[tok]; ++q) {
        const auto row = static_cast<size_t>(rows[q]);
        toFloat32(shape_.dtype, in + row * rowBytes, tmp, h);
        const float w = rowWeight_[row];
        for (size_t e = 0; e < h; ++e) acc[e] += w * tmp[e];
      }
      writeCombineRecord(acc, slot + kMoeHeaderBytes + i * rec);
    }
    board_.yieldToCaller();
  }
}

// Waits until the caller has handed back every row of chunk `chunk` of every source.
Status MoeBuffer::waitReturned(size_t chunk) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const RunContext ctx = comm_.runContext();
  for (size_t s = 0; s < n; ++s) {
    if (chunk >= chunksOf(recvCount_[s])) continue;
    STRATA_CHECK(board_.waitChunkReady(kMoeCombineOp, chunkId(s, chunk), ctx.abort, ctx.timeoutMs));
  }
  return Status::ok();
}

// After combine round c: checks every rank's header (round 0), then counts the records of
// chunk c of every rank's message and finishes each token whose last sum this brought (and,
// in round 0, the tokens no rank holds).
Status MoeBuffer::sumLanded(size_t chunk, void* combined) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  if (chunk == 0) {
    const size_t rec = shape_.combineRecordBytes();
    const MoeWireHeader mine = wireHeader(kMoeCombineMagic, shape_.combineQuant, rec);
    for (size_t r = 0; r < n; ++r)
      STRATA_CHECK(checkCombineHeader(combineIn(static_cast<int>(r)), mine, static_cast<int>(r),
                                      sentCount_[r]));
    for (size_t t = 0; t < numTokens_; ++t)
      if (partsLeft_[t] == 0) finishToken(t, combined);
  }
  for (size_t r = 0; r < n; ++r) {
    const size_t upTo = std::min(sentCount_[r], (chunk + 1) * runChunk_);
    for (size_t i = summed_[r]; i < upTo; ++i) {
      const auto t = static_cast<size_t>(sentTokens_[r * shape_.maxTokens + i]);
      if (--partsLeft_[t] == 0) finishToken(t, combined);
    }
    summed_[r] = upTo;
  }
  board_.yieldToCaller();
  return Status::ok();
}

// Token t's sums from every rank holding it, added in float32 in rank order and rounded once:
// the same additions whichever round brought them, so a pipelined combine returns exactly what
// an unpipelined one does.
void MoeBuffer::finishToken(size_t t, void* combined) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t h = shape_.hidden;
  const size_t rec = shape_.combineRecordBytes();
  float* acc = tokenAccum_.data() + t * h;
  float* tmp = rowFloat_.data();
  std::fill_n(acc, h, 0.0f);
  for (size_t r = 0; r < n; ++r) {
    const int32_t at = tokenPos_[t * n + r];
    if (at < 0) continue;
    readCombineRecord(combineIn(static_cast<int>(r)) + kMoeHeaderBytes +
                          static_cast<size_t>(at) * rec,
                      tmp);
    for (size_t j = 0; j < h; ++j) acc[j] += tmp[j];
  }
  fromFloat32(shape_.dtype, acc, static_cast<std::byte*>(combined) + t * h * shape_.elemBytes(),
              h);
}

Status MoeBuffer::checkCombineHeader(const std::byte* slot, const MoeWireHeader& mine, int peer,
                                     size_t count) const {
  const MoeWireHeader hd = readMoeHeader(slot);
  STRATA_CHECK(checkMoeHeader(kMoeCombineOp, hd, mine, peer, shape_.maxTokens));
  if (hd.tokens != count)
    return makeError(strataInvalidUsage,
                     "%s: rank %d returned %u tokens where this rank dispatched %zu to it (the "
                     "ranks combined different dispatches)",
                     kMoeCombineOp, peer, hd.tokens, count);
  return Status::ok();
}

// A combine record widened to float32 (dequantised on an int8 leg).
void MoeBuffer::readCombineRecord(const std::byte* p, float* out) const {
  const size_t h = shape_.hidden;
  if (shape_.combineQuant == strataMoeQuantInt8) {
    float scale;
    std::memcpy(&scale, p, sizeof(float));
    dequantizeBlocks(strataInt8, p + sizeof(float), &scale, h, strataFloat32, out, h);
  } else {
    toFloat32(shape_.dtype, p, out, h);
  }
}

// A float32 sum written as a combine record: rounded to the dtype once, or quantised to int8.
void MoeBuffer::writeCombineRecord(const float* acc, std::byte* p) const {
  const size_t h = shape_.hidden;
  if (shape_.combineQuant == strataMoeQuantInt8) {
    float scale = 0;
    quantizeBlocks(strataFloat32, acc, strataInt8, p + sizeof(float), &scale, h, h);
    std::memcpy(p, &scale, sizeof(float));
  } else {
    fromFloat32(shape_.dtype, acc, p, h);
  }
}

Status MoeBuffer::addCombineMessage(const std::byte* slot, int peer, size_t count,
                                    const int32_t* tokens) {
  const size_t h = shape_.hidden;
  const size_t rec = shape_.combineRecordBytes();
  STRATA_CHECK(checkCombineHeader(
      slot, wireHeader(kMoeCombineMagic, shape_.combineQuant, rec), peer, count));
  float* tmp = rowFloat_.data();
  for (size_t i = 0; i < count; ++i) {
    readCombineRecord(slot + kMoeHeaderBytes + i * rec, tmp);
    float* acc = tokenAccum_.data() + static_cast<size_t>(tokens[i]) * h;
    for (size_t j = 0; j < h; ++j) acc[j] += tmp[j];
  }
  return Status::ok();
}

Status MoeBuffer::combine(const void* expertOut, void* combined, bool pipelined) {
  if (!dispatched_)
    return makeError(strataInvalidUsage, "%s: the buffer's last dispatch did not complete",
                     kMoeCombineOp);
  if (expertOut == nullptr && numRows_ > 0)
    return makeError(strataInvalidArgument,
                     "%s: expertOut is NULL where the dispatch delivered %zu rows", kMoeCombineOp,
                     numRows_);
  return runCombine(expertOut, combined, pipelined);
}

// Round c sends back chunk c of the tokens every source sent here (once their rows are final)
// and receives chunk c of this rank's tokens from every rank; a token is summed once every
// rank's sum of it has landed (sumLanded), so the last round leaves only its own tokens to sum.
Status MoeBuffer::runCombine(const void* expertOut, void* combined, bool pipelined) {
  if (!pipelined) board_.allReady();
  if (levels_) {
    const uint64_t call = comm_.nextCallTag(static_cast<uint8_t>(CallKind::kMoeCombine));
    STRATA_CHECK(runHierCombine(expertOut, pipelined, call,
                                numTokens_ * shape_.hidden * shape_.elemBytes()));
    return unpackHierCombine(combined);
  }
  MoeLeg leg;
  leg.algo = window_ ? "moe-combine-direct" : "moe-combine";
  leg.collName = "MoeCombine";
  leg.call = comm_.nextCallTag(static_cast<uint8_t>(CallKind::kMoeCombine));
  leg.slotBytes = shape_.combineSlotBytes();
  leg.header = kMoeHeaderBytes;
  leg.record = shape_.combineRecordBytes();
  leg.sendTokens = &recvCount_;
  leg.recvTokens = &sentCount_;
  leg.sendStage = combineSend_.data();
  leg.recvArea = combineRecv_.data();
  leg.callBytes = numTokens_ * shape_.hidden * shape_.elemBytes();
  std::copy_n(tokenRanks_.begin(), numTokens_, partsLeft_.begin());
  std::fill(summed_.begin(), summed_.end(), 0);
  if (window_) STRATA_CHECK(syncPeers(leg));
  STRATA_CHECK(runRounds(
      leg,
      [&](size_t c) {
        if (pipelined) STRATA_CHECK(waitReturned(c));
        packCombineChunk(c, expertOut);
        return Status::ok();
      },
      [&](size_t c) { return sumLanded(c, combined); }));
  return Status::ok();
}

}  // namespace strata
