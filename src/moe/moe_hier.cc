// MoE dispatch and combine on a two-level topology (TopoComm order): G level-0 groups of L ranks
// (a host, a server's mesh); rank (g, i) is index i of group g. A token crosses level 1 once
// per destination group, on its source's rail (the same-index ranks of every group):
//   dispatch, hop 1: (g, i) sends its own group's ranks their messages directly at level 0 and,
//     for each other group h, one group message to (h, i), its gateway there: each token with an
//     expert in h once, after the headers of h's ranks. Hop 2: the gateway forwards each record
//     to the ranks of its group holding one of the token's slots (and keeps its own), as a piece
//     per (source, rank) per round; a rank places what lands in the receive slot of the
//     token's source, so it ends up with exactly the messages of the flat route, and the rows
//     (and their order) are the flat route's.
//   combine, retracing it: each rank sums its rows of one token as on the flat route; the sums
//     for a source of its own group go straight back, those for a source (h, j) of another group
//     to (g, j), the source's gateway here, which adds its group's sums of each token in float32
//     in rank order and rounds once (to the dtype, or int8) before the one message per group
//     crosses level 1 back to (h, j).
// Both run in rounds of chunks: round c moves chunk c of every message of hop 1 then the pieces
// forwarded from it (combine: the sums of chunk c, then group chunk c, which they complete); a
// chunk's rows are published once both hops landed.
#include <algorithm>
#include <cstring>

#include "moe/moe_buffer.h"
#include "moe/moe_run.h"
#include "reduce/quantize.h"
#include "reduce/reduce.h"

namespace strata {

// The two-level route's packing, all before round 0: each token's record once into the message
// of every rank of this group holding one of its experts (this rank's own straight into its
// receive slot) and once into the group message of every other group holding one, quantised
// once when the leg is int8; the headers of the other groups' ranks go inside their group's
// message.
void MoeBuffer::packHierDispatch(const void* x, const TopkIds& ids, const float* weights) {
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t h = shape_.hidden;
  const size_t lx = static_cast<size_t>(shape_.localExperts);
  const size_t rowBytes = h * shape_.elemBytes();
  const size_t rec = shape_.dispatchRecordBytes();
  const size_t hdr = shape_.dispatchHeaderBytes();
  std::fill(sentCount_.begin(), sentCount_.end(), 0);
  std::fill(destSlotRows_.begin(), destSlotRows_.end(), 0);
  std::fill(groupSent_.begin(), groupSent_.end(), 0);
  for (size_t t = 0; t < ids.tokens; ++t) {
    countToken(ids, t);
    std::fill(inGroup_.begin(), inGroup_.end(), 0);
    const std::byte* row = static_cast<const std::byte*>(x) + t * rowBytes;
    bool quantised = false;
    for (size_t r = 0; r < n + inGroup_.size(); ++r) {
      std::byte* p = nullptr;
      if (r < n) {
        if (!inRank_[r]) continue;
        if (remote(r)) {  // counted; the record goes into the group's message
          inGroup_[static_cast<size_t>(groupOf_[r])] = 1;
          sentTokens_[r * shape_.maxTokens + sentCount_[r]++] = static_cast<int32_t>(t);
          continue;
        }
        const int dst = static_cast<int>(r);
        std::byte* slot =
            dispatchOut(dst);
        p = slot + hdr + sentCount_[r] * rec;
        sentTokens_[r * shape_.maxTokens + sentCount_[r]++] = static_cast<int32_t>(t);
      } else {
        const size_t h = r - n;
        if (!inGroup_[h]) continue;
        p = dispatchSend_.data() + groupAt(static_cast<int>(h)) + groupHeaderBytes() +
            groupSent_[h] * rec;
        groupTokens_[h * shape_.maxTokens + groupSent_[h]++] = static_cast<int32_t>(t);
      }
      writeDispatchRecord(p, ids, weights, t, row, &quantised);
    }
  }
  const MoeWireHeader mine = wireHeader(kMoeDispatchMagic, shape_.dispatchQuant, rec);
  for (size_t h = 0; h < inGroup_.size(); ++h) {
    MoeWireHeader hd = mine;
    hd.tokens = static_cast<uint32_t>(groupSent_[h]);
    writeMoeHeader(dispatchSend_.data() + groupAt(static_cast<int>(h)), hd);
  }
  for (size_t r = 0; r < n; ++r) {
    MoeWireHeader hd = mine;
    hd.tokens = static_cast<uint32_t>(sentCount_[r]);
    const int dst = static_cast<int>(r);
    std::byte* slot =
        dispatchOut(dst);
    if (remote(r))  // rank j of group h: its header inside the group's message
      slot = dispatchSend_.data() + groupAt(groupOf_[r]) + kMoeHeaderBytes +
             static_cast<size_t>(indexOf_[r]) * hdr;
    writeMoeHeader(slot, hd);
    std::memcpy(slot + kMoeHeaderBytes, destSlotRows_.data() + r * lx, lx * sizeof(uint32_t));
  }
}

Status MoeBuffer::runTransfers(const char* algo, const char* name, uint64_t call,
                               std::byte* send, std::byte* recv, size_t callBytes) {
  const PlanPtr plan = moeTransferPlan(algo, shape_.nranks, sendList_, recvList_);
  sendList_.clear();
  recvList_.clear();
  if (!plan) return Status::ok();
  return runMoePlan(comm_, run_, plan, name, call, send, recv, callBytes);
}

Status MoeBuffer::runHierDispatch(const MoeDispatchOutputs& out, uint64_t call,
                                  size_t callBytes) {
  const TwoLevels& t = *levels_;
  const size_t slot = shape_.dispatchSlotBytes();
  const size_t hdr = shape_.dispatchHeaderBytes();
  const size_t rec = shape_.dispatchRecordBytes();
  const size_t gh = groupHeaderBytes();
  const size_t me = static_cast<size_t>(rank_);
  const auto rs = [](int r) { return static_cast<size_t>(r); };
  std::fill(groupRecvTokens_.begin(), groupRecvTokens_.end(), 0);
  std::fill(fwdCount_.begin(), fwdCount_.end(), 0);
  std::fill(fwdIdx_.begin(), fwdIdx_.end(), -1);
  std::fill(fwdRounds_.begin(), fwdRounds_.end(), 0);
  for (size_t c = 0;; ++c) {
    bool any = c == 0 || c < chunksOf(recvCount_[me]);
    // Hop 1: this group's ranks directly, the other groups' gateways on this rank's rail.
    MoeTransfer x;
    for (int d = 1; d < t.size; ++d) {
      const int to = t.at(t.g, t.i + d), from = t.at(t.g, t.i - d);
      if (roundChunk(c, rs(to) * slot, hdr, rec, sentCount_[rs(to)], false, &x)) {
        sendList_.push_back({to, x});
        any = true;
      }
      if (roundChunk(c, rs(from) * slot, hdr, rec, recvCount_[rs(from)], true, &x)) {
        recvList_.push_back({from, x});
        any = true;
      }
    }
    for (int d = 1; d < t.groups; ++d) {
      const int hto = (t.g + d) % t.groups, hfrom = (t.g - d + t.groups) % t.groups;
      if (roundChunk(c, groupAt(hto), gh, rec, groupSent_[rs(hto)], false, &x)) {
        sendList_.push_back({t.at(hto, t.i), x});
        any = true;
      }
      if (roundChunk(c, groupAt(hfrom), gh, rec, groupRecvTokens_[rs(hfrom)], true, &x)) {
        recvList_.push_back({t.at(hfrom, t.i), x});
        any = true;
      }
    }
    for (size_t s = 0; s < fwdRounds_.size(); ++s) any = any || c < fwdRounds_[s];
    if (!any) {
      sendList_.clear();
      recvList_.clear();
      break;
    }
    STRATA_CHECK(runTransfers("moe-dispatch-hier", "MoeDispatch", call, dispatchSend_.data(),
                              dispatchRecv_.data(), c == 0 ? callBytes : 0));
    STRATA_CHECK(forwardGroupChunk(c, call));
    STRATA_CHECK(landPieces(c));
    if (c == 0) STRATA_CHECK(readLayout(out));
    for (int j = 0; j < t.size; ++j) {  // this group's sources (and this rank) land directly
      const size_t s = rs(t.at(t.g, j));
      landed_[s] = std::min(recvCount_[s], (c + 1) * runChunk_);
    }
    STRATA_CHECK(unpackLanded(out));
  }
  for (size_t s = 0; s < landed_.size(); ++s)
    if (landed_[s] != recvCount_[s])
      return makeError(strataInvalidUsage,
                       "%s: %zu of the %zu records rank %zu announced were forwarded here",
                       kMoeDispatchOp, landed_[s], recvCount_[s], s);
  return Status::ok();
}

// As the gateway of the sources (h, i): after hop 1 of round c, splits chunk c of each group
// message into one piece per rank of this group (its records that hold one of the rank's
// slots, behind the rank's header) and sends them (hop 2); this rank's own piece goes straight
// into the source's receive slot.
Status MoeBuffer::forwardGroupChunk(size_t chunk, uint64_t call) {
  const TwoLevels& t = *levels_;
  const size_t slot = shape_.dispatchSlotBytes();
  const size_t hdr = shape_.dispatchHeaderBytes();
  const size_t rec = shape_.dispatchRecordBytes();
  const size_t gh = groupHeaderBytes();
  const size_t k = static_cast<size_t>(shape_.topk);
  const size_t L = static_cast<size_t>(t.size);
  const size_t T = shape_.maxTokens;
  const auto rs = [](int r) { return static_cast<size_t>(r); };
  const MoeWireHeader mine =
      wireHeader(kMoeDispatchMagic, shape_.dispatchQuant, shape_.dispatchRecordBytes());
  for (int d = 1; d < t.groups; ++d) {
    const int h = (t.g + d) % t.groups;
    const size_t hh = rs(h);
    const int source = t.at(h, t.i);
    const std::byte* group = dispatchRecv_.data() + groupAt(h);
    if (chunk == 0) {
      const MoeWireHeader gd = readMoeHeader(group);
      STRATA_CHECK(checkMoeHeader(kMoeDispatchOp, gd, mine, source, T));
      groupRecvTokens_[hh] = gd.tokens;
    }
    if (chunk >= chunksOf(groupRecvTokens_[hh])) continue;
    const auto rounds = static_cast<uint32_t>(chunksOf(groupRecvTokens_[hh]));
    const size_t first = chunk * runChunk_;
    const size_t last = std::min(groupRecvTokens_[hh], first + runChunk_);
    for (size_t j = 0; j < L; ++j) {
      const int r = t.at(t.g, static_cast<int>(j));
      const bool self = r == rank_;
      // The rank's header as the source wrote it, this round's piece after it.
      MoeWireHeader hd = readMoeHeader(group + kMoeHeaderBytes + j * hdr);
      std::byte* piece = self ? dispatchRecv_.data() + rs(source) * slot
                              : dispatchSend_.data() + rs(t.at(h, static_cast<int>(j))) * slot;
      if (chunk == 0 || !self)
        std::memcpy(piece, group + kMoeHeaderBytes + j * hdr, hdr);
      size_t& count = fwdCount_[hh * L + j];
      const size_t before = count;
      for (size_t q = first; q < last; ++q) {
        const std::byte* p = group + gh + q * rec;
        const auto* slots = reinterpret_cast<const int32_t*>(p) + k;
        bool holds = false;
        for (size_t e = 0; e < k && !holds; ++e)
          holds = slots[e] >= 0 && slots[e] < shape_.numSlots && shape_.rankOf(slots[e]) == r;
        if (!holds) continue;
        if (count >= hd.tokens)
          return makeError(strataInvalidUsage,
                           "%s: rank %d's group message holds more tokens for rank %d than its "
                           "header announced (%u)",
                           kMoeDispatchOp, source, r, hd.tokens);
        std::byte* dst = self ? piece + hdr + count * rec : piece + hdr + (count - before) * rec;
        std::memcpy(dst, p, rec);
        fwdIdx_[(hh * T + q) * L + j] = static_cast<int32_t>(count);
        ++count;
      }
      if (self) {
        landed_[rs(source)] = count;
        continue;
      }
      hd.pieceTokens = static_cast<uint32_t>(count - before);
      hd.pieceRounds = rounds;
      writeMoeHeader(piece, hd);
      sendList_.push_back({r, MoeTransfer{rs(t.at(h, static_cast<int>(j))) * slot,
                                          hdr + (count - before) * rec, false}});
    }
  }
  // What this rank's group-mates forward here: a piece per source, header first; after round
  // 0 its header lands over records already unpacked, so the records follow the ones before.
  for (int d = 1; d < t.size; ++d) {
    const int from = t.at(t.g, t.i - d);
    for (int e = 1; e < t.groups; ++e) {
      const size_t source = rs(t.at((t.g + e) % t.groups, indexOf_[rs(from)]));
      if (chunk == 0)
        recvList_.push_back({from, MoeTransfer{source * slot, hdr + runChunk_ * rec, true}});
      else if (chunk < fwdRounds_[source])
        recvList_.push_back({from, MoeTransfer{source * slot + landed_[source] * rec,
                                               hdr + runChunk_ * rec, true}});
    }
  }
  return runTransfers("moe-dispatch-hier", "MoeDispatch", call, dispatchSend_.data(),
                      dispatchRecv_.data(), 0);
}

// Counts the pieces hop 2 of round c brought.
Status MoeBuffer::landPieces(size_t chunk) {
  const TwoLevels& t = *levels_;
  const size_t slot = shape_.dispatchSlotBytes();
  const size_t rec = shape_.dispatchRecordBytes();
  const auto rs = [](int r) { return static_cast<size_t>(r); };
  for (int d = 1; d < t.size; ++d) {
    const int from = t.at(t.g, t.i - d);
    for (int e = 1; e < t.groups; ++e) {
      const size_t source = rs(t.at((t.g + e) % t.groups, indexOf_[rs(from)]));
      if (chunk > 0 && chunk >= fwdRounds_[source]) continue;
      const size_t at = source * slot + (chunk == 0 ? 0 : landed_[source] * rec);
      const MoeWireHeader hd = readMoeHeader(dispatchRecv_.data() + at);
      if (hd.magic != kMoeDispatchMagic || hd.pieceRounds == 0 ||
          landed_[source] + hd.pieceTokens > hd.tokens)
        return makeError(strataInvalidUsage,
                         "%s: rank %d forwarded a piece of rank %zu's tokens that does not fit "
                         "its header (%u + %u of %u tokens)",
                         kMoeDispatchOp, from, source, static_cast<unsigned>(landed_[source]),
                         hd.pieceTokens, hd.tokens);
      if (chunk == 0) fwdRounds_[source] = hd.pieceRounds;
      landed_[source] += hd.pieceTokens;
    }
  }
  return Status::ok();
}

Status MoeBuffer::runHierCombine(const void* expertOut, bool pipelined, uint64_t call,
                                 size_t callBytes) {
  const TwoLevels& t = *levels_;
  const size_t cs = shape_.combineSlotBytes();
  const size_t rec = shape_.combineRecordBytes();
  const size_t L = static_cast<size_t>(t.size);
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t me = static_cast<size_t>(rank_);
  const auto rs = [](int r) { return static_cast<size_t>(r); };
  for (size_t c = 0;; ++c) {
    bool any = c == 0 || c < chunksOf(recvCount_[me]);
    // Hop 1 (level 0): to each rank of this group, its own tokens' sums, then those of the
    // sources of its index in the other groups (it is their gateway); from each, the same.
    for (int d = 1; d < t.size; ++d) {
      const int to = t.at(t.g, t.i + d), from = t.at(t.g, t.i - d);
      const size_t jto = rs(indexOf_[rs(to)]), jfrom = rs(indexOf_[rs(from)]);
      if (c < chunksOf(recvCount_[rs(to)])) {
        sendList_.push_back(
            {to, chunkAt(rs(to) * cs, kMoeHeaderBytes, rec, recvCount_[rs(to)], c)});
        any = true;
      }
      if (c < chunksOf(sentCount_[rs(from)])) {
        recvList_.push_back(
            {from, chunkAt(rs(from) * cs, kMoeHeaderBytes, rec, sentCount_[rs(from)], c)});
        any = true;
      }
      for (int e = 1; e < t.groups; ++e) {
        const int h = (t.g + e) % t.groups;
        const size_t source = rs(t.at(h, static_cast<int>(jto)));
        if (c < chunksOf(recvCount_[source])) {
          sendList_.push_back(
              {to, chunkAt(source * cs, kMoeHeaderBytes, rec, recvCount_[source], c)});
          any = true;
        }
        const size_t count = fwdCount_[rs(h) * L + jfrom];
        if (c < chunksOf(count)) {
          recvList_.push_back({from, chunkAt(rs(t.at(h, static_cast<int>(jfrom))) * cs,
                                             kMoeHeaderBytes, rec, count, c)});
          any = true;
        }
      }
    }
    for (int e = 1; e < t.groups; ++e) {
      const size_t h = rs((t.g + e) % t.groups);
      any = any || c < chunksOf(groupRecvTokens_[h]) || c < chunksOf(groupSent_[h]);
    }
    if (!any) {
      sendList_.clear();
      recvList_.clear();
      break;
    }
    if (pipelined) STRATA_CHECK(waitReturned(c));
    packCombineChunk(c, expertOut);
    STRATA_CHECK(runTransfers("moe-combine-hier", "MoeCombine", call, combineSend_.data(),
                              combineRecv_.data(), c == 0 ? callBytes : 0));
    // Hop 2 (level 1): group chunk c of each group's sums back to its source, which chunk c of
    // every rank's sums completed (a token's record index at a rank is at most its index in
    // the group message).
    STRATA_CHECK(reduceAtGateway(c));
    for (int e = 1; e < t.groups; ++e) {
      const int hto = (t.g + e) % t.groups, hfrom = (t.g - e + t.groups) % t.groups;
      const size_t source = rs(t.at(hto, t.i));
      if (c < chunksOf(groupRecvTokens_[rs(hto)]))
        sendList_.push_back({t.at(hto, t.i), chunkAt(source * cs, kMoeHeaderBytes, rec,
                                                     groupRecvTokens_[rs(hto)], c)});
      if (c < chunksOf(groupSent_[rs(hfrom)]))
        recvList_.push_back({t.at(hfrom, t.i), chunkAt((n + rs(hfrom)) * cs, kMoeHeaderBytes,
                                                       rec, groupSent_[rs(hfrom)], c)});
    }
    STRATA_CHECK(runTransfers("moe-combine-hier", "MoeCombine", call, combineSend_.data(),
                              combineRecv_.data(), 0));
  }
  return Status::ok();
}

// For each source (h, i) of another group: the tokens of group chunk c, each the float32 sum in
// rank order of the sums this group's ranks sent for it, rounded once, into the message back.
Status MoeBuffer::reduceAtGateway(size_t chunk) {
  const TwoLevels& t = *levels_;
  const size_t rec = shape_.combineRecordBytes();
  const size_t h = shape_.hidden;
  const size_t L = static_cast<size_t>(t.size);
  const size_t T = shape_.maxTokens;
  const auto rs = [](int r) { return static_cast<size_t>(r); };
  const MoeWireHeader mine = wireHeader(kMoeCombineMagic, shape_.combineQuant, rec);
  float* acc = accRow_.data();
  float* tmp = rowFloat_.data();
  for (int e = 1; e < t.groups; ++e) {
    const int g = (t.g + e) % t.groups;
    const size_t gg = rs(g);
    const size_t source = rs(t.at(g, t.i));
    if (chunk >= chunksOf(groupRecvTokens_[gg])) continue;
    std::byte* out = combineOut(static_cast<int>(source));
    if (chunk == 0) {
      for (size_t j = 0; j < L; ++j) {
        const int member = t.at(t.g, static_cast<int>(j));
        const MoeWireHeader hd = readMoeHeader(combineIn(t.at(g, static_cast<int>(j))));
        STRATA_CHECK(checkMoeHeader(kMoeCombineOp, hd, mine, member, T));
        if (hd.tokens != fwdCount_[gg * L + j])
          return makeError(strataInvalidUsage,
                           "%s: rank %d returned %u sums of rank %zu's tokens where %zu were "
                           "forwarded to it",
                           kMoeCombineOp, member, hd.tokens, source, fwdCount_[gg * L + j]);
      }
      MoeWireHeader hd = mine;
      hd.tokens = static_cast<uint32_t>(groupRecvTokens_[gg]);
      writeMoeHeader(out, hd);
    }
    const size_t first = chunk * runChunk_;
    const size_t last = std::min(groupRecvTokens_[gg], first + runChunk_);
    for (size_t q = first; q < last; ++q) {
      std::fill_n(acc, h, 0.0f);
      for (size_t j = 0; j < L; ++j) {
        const int32_t x = fwdIdx_[(gg * T + q) * L + j];
        if (x < 0) continue;
        readCombineRecord(combineIn(t.at(g, static_cast<int>(j))) + kMoeHeaderBytes +
                              static_cast<size_t>(x) * rec,
                          tmp);
        for (size_t i = 0; i < h; ++i) acc[i] += tmp[i];
      }
      writeCombineRecord(acc, out + kMoeHeaderBytes + q * rec);
    }
  }
  return Status::ok();
}

// Adds, group by group in group order, this group's sums rank by rank and each other group's
// sum, in float32, and rounds once.
Status MoeBuffer::unpackHierCombine(void* combined) {
  const TwoLevels& t = *levels_;
  const size_t n = static_cast<size_t>(shape_.nranks);
  const size_t T = shape_.maxTokens;
  std::fill_n(tokenAccum_.begin(), numTokens_ * shape_.hidden, 0.0f);
  for (int g = 0; g < t.groups; ++g) {
    const auto gg = static_cast<size_t>(g);
    if (g != t.g) {
      STRATA_CHECK(addCombineMessage(combineIn(static_cast<int>(n + gg)),
                                     t.at(g, t.i), groupSent_[gg], groupTokens_.data() + gg * T));
      continue;
    }
    for (int j = 0; j < t.size; ++j) {
      const auto r = static_cast<size_t>(t.at(g, j));
      STRATA_CHECK(addCombineMessage(combineIn(static_cast<int>(r)),
                                     static_cast<int>(r), sentCount_[r],
                                     sentTokens_.data() + r * T));
    }
  }
  fromFloat32(shape_.dtype, tokenAccum_.data(), combined, numTokens_ * shape_.hidden);
  return Status::ok();
}

}  // namespace strata
