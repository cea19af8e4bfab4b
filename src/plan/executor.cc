#include "plan/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "base/backoff.h"
#include "base/logging.h"
#include "base/status_signal.h"
#include "plan/call_tag.h"
#include "plan/phase_events.h"
#include "reduce/quantize.h"
#include "reduce/reduce.h"

namespace strata {

// Received messages at least this large are copied out with non-temporal stores.
constexpr size_t kStreamingCopyBytes = 4u << 20;
// Forwarded blocks at least this large go through forwardStreaming. Below it, the output still
// largely fits in the last-level cache, where plain stores win (measured: 8-16 MiB AllReduce
// 3-5% slower streamed, 64 MiB 9% and 128 MiB 18% faster, 2 ranks).
constexpr size_t kStreamingForwardBytes = 16u << 20;

PlanRun::PlanRun(RunContext ctx, std::vector<RunItem> items)
    : ctx_(std::move(ctx)), items_(std::move(items)) {
  timed_ = ctx_.transport && ctx_.transport->modelsTime();
  startPhase();
}

void PlanRun::reset(const RunContext& ctx) {
  ctx_ = ctx;
  timed_ = ctx_.transport && ctx_.transport->modelsTime();
  items_.clear();
  item_ = 0;
  phase_ = 0;
  counters_ = ExecCounters{};
  prepared_.clear();
}

void PlanRun::start() {
  ++seq_;
  startPhase();
}

void PlanRun::notePrepared(const CollArgs* calls, size_t count) {
  prepared_.clear();
  for (size_t i = 0; i < count; ++i) {
    const std::optional<CallKey> key = callKey(calls[i]);
    if (!key) {
      prepared_.clear();
      return;
    }
    prepared_.push_back(*key);
  }
}

bool PlanRun::preparedFor(const CollArgs* calls, size_t count) const {
  if (prepared_.size() != count) return false;  // also when nothing was noted
  for (size_t i = 0; i < count; ++i) {
    const std::optional<CallKey> key = callKey(calls[i]);
    if (!key || !(*key == prepared_[i])) return false;
  }
  return true;
}

void PlanRun::restart() {
  ++seq_;
  item_ = 0;
  phase_ = 0;
  counters_ = ExecCounters{};
  startPhase();
}

std::byte* PlanRun::rankBase(int slot, int rank) const {
  if (slot == kFlagBuf) return ctx_.transport->flagData(rank, flagSeq_);
  return items_[item_].peerBase(slot, rank);
}

std::byte* PlanRun::at(const BufRef& r) const {
  const RunItem& it = items_[item_];
  if (r.slot == kFlagBuf) return rankBase(kFlagBuf, r.rank == kThisRank ? ctx_.rank : r.rank) + r.offset;
  if (r.rank == kThisRank) return it.base(r.slot) + r.offset;
  return it.peerBase(r.slot, r.rank) + r.offset;
}

void PlanRun::startPhase() {
  while (item_ < items_.size() && phase_ >= items_[item_].plan->phases.size()) {
    ++item_;
    phase_ = 0;
  }
  if (item_ >= items_.size()) return;
  // A plan that uses flags takes the next flag sequence number (the same on every rank: the
  // ranks run the same calls in the same order).
  if (phase_ == 0 && items_[item_].plan->flags) ++flagSeq_;
  const Phase& ph = items_[item_].plan->phases[phase_];
  const size_t ops = ph.ops.size();
  if (done_.size() < ops) {
    done_.resize(ops);
    forwarded_.resize(ops);
    finished_.resize(ops);
  }
  std::fill_n(done_.begin(), ops, 0);
  std::fill_n(forwarded_.begin(), ops, 0);
  std::fill_n(finished_.begin(), ops, 0);
  const size_t n = static_cast<size_t>(items_[item_].plan->nranks);
  if (sendBusy_.size() < n) {
    sendBusy_.assign(n, 0);
    recvBusy_.assign(n, 0);
  }
  if (signals_.size() < n * kSignalChannels) signals_.resize(n * kSignalChannels, 0);
  if (timed_) {
    ctx_.transport->phaseBegin();
    announcePhase(ph, *ctx_.transport);
  }
}

Status PlanRun::runLocal(const Op& op) {
  const RunItem& item = items_[item_];
  switch (op.kind) {
    case OpKind::kCopy:
      std::memmove(at(op.dst), at(op.src), op.bytes);
      return Status::ok();
    case OpKind::kReduceLocal: {
      const size_t n = op.bytes / dtypeSize(op.dtype);
      if (op.src.rank == kEveryRank) {
        if (op.src.slot != kFlagBuf && (item.peerSend.empty() || item.peerRecv.empty()))
          return makeError(strataInternalError, "%s (%s): other ranks' buffers were not bound",
                           item.collName, item.plan->algo.c_str());
        operands_.resize(static_cast<size_t>(op.nsrc));
        for (int k = 0; k < op.nsrc; ++k)
          operands_[static_cast<size_t>(k)] = rankBase(op.src.slot, k) + op.src.offset;
        reduceOperandList(op.dtype, op.redop, at(op.dst), operands_.data(), op.nsrc, n);
      } else if (op.nsrc == 2) {
        ReduceFn fn = reduceKernel(op.dtype, op.redop);
        if (!fn) return makeError(strataInternalError, "no reduction kernel for this type/op");
        fn(at(op.dst), at(op.src), at(op.src2), n);
      } else {
        reduceOperands(op.dtype, op.redop, at(op.dst), at(op.src), op.srcStride, op.nsrc, n);
      }
      return Status::ok();
    }
    case OpKind::kTransform:
      switch (op.transform) {
        case TransformKind::kConvert:
          convertElements(op.dtype, at(op.src), op.dstType, at(op.dst), op.elems);
          return Status::ok();
        case TransformKind::kQuantize:
          quantizeBlocks(op.dtype, at(op.src), op.dstType, at(op.dst),
                         reinterpret_cast<float*>(at(op.scales)), op.blockElems, op.elems);
          return Status::ok();
        case TransformKind::kDequantize:
          dequantizeBlocks(op.dtype, at(op.src), reinterpret_cast<const float*>(at(op.scales)),
                           op.blockElems, op.dstType, at(op.dst), op.elems);
          return Status::ok();
        case TransformKind::kPreMultiply:
          preMultiply(op.dtype, at(op.src), at(op.scales), op.dstType, at(op.dst), op.elems);
          return Status::ok();
      }
      return Status::ok();
    case OpKind::kDivide:
      divideInPlace(op.dtype, at(op.dst), op.elems, items_[item_].plan->nranks);
      return Status::ok();
    case OpKind::kCallback: {
      const size_t i = static_cast<size_t>(op.index);
      if (i >= item.callbacks.size() || item.callbacks[i].fn == nullptr)
        return makeError(strataInvalidUsage, "%s (%s): callback %d of the plan was not bound",
                         item.collName, item.plan->algo.c_str(), op.index);
      const size_t es = dtypeSize(op.dtype);
      item.callbacks[i].fn(at(op.dst), es ? op.dst.offset / es : 0, op.elems, op.dtype,
                           item.callbacks[i].user);
      return Status::ok();
    }
    case OpKind::kSend:
    case OpKind::kRecv:
    case OpKind::kRecvReduce:
    case OpKind::kRecvReduceSend:
    case OpKind::kRecvCopySend:
    case OpKind::kRecvDequantize:
    case OpKind::kSignal:
    case OpKind::kWait:
    case OpKind::kPut:
    case OpKind::kFlagPost:
    case OpKind::kFlagWait:
      break;
  }
  return makeError(strataInternalError, "op kind %s is not local", opKindName(op.kind));
}

bool PlanRun::ready(const Op& op) const {
  for (uint16_t a : op.after)
    if (!finished_[a]) return false;
  return true;
}

// An op that may not start yet still holds its place on its channels (plan.h, rule 3).
void PlanRun::holdChannels(const Op& op) {
  if (sendsOnChannel(op.kind)) {
    const bool forwards = op.kind == OpKind::kRecvReduceSend || op.kind == OpKind::kRecvCopySend;
    sendBusy_[static_cast<size_t>(forwards ? op.peer2 : op.peer)] = pass_;
  }
  if (receivesOnChannel(op.kind)) recvBusy_[static_cast<size_t>(op.peer)] = pass_;
}

void PlanRun::absorbSignals(int peer) {
  Endpoint& ep = ctx_.transport->endpoint(peer);
  for (RecvChunk c = ep.peek(); !c.empty() && c.signal >= 0; c = ep.peek()) {
    if (c.signal < kSignalChannels) ++signalCount(peer, c.signal);
    ep.pop();
  }
}

// Pushes as much of src[0, bytes) (part of a message of `total` bytes) to peer as the transport
// takes now; returns how much that was.
size_t PlanRun::pushFrom(int peer, const std::byte* src, size_t bytes, size_t total) {
  Endpoint& ep = ctx_.transport->endpoint(peer);
  size_t sent = 0;
  while (sent < bytes) {
    const size_t n = ep.push(src + sent, bytes - sent, total, items_[item_].call);
    if (n == 0) break;
    sent += n;
  }
  counters_.bytesSent += sent;
  counters_.bytesPerLevel[ctx_.peerLevel ? ctx_.peerLevel[peer] : 0] += sent;
  return sent;
}

// Pushes message bytes [sent, limit) of src (a message of `total` bytes) to peer.
void PlanRun::pushSome(int peer, const std::byte* src, size_t& sent, size_t limit, size_t total,
                       bool* progressed) {
  if (sent >= limit) return;
  const size_t n = pushFrom(peer, src + sent, limit - sent, total);
  sent += n;
  if (n > 0) *progressed = true;
}

FlagTag PlanRun::flagTagOf(const Op& op) const {
  return FlagTag{items_[item_].call, op.elems, op.index};
}

bool PlanRun::messageWaiting(int peer) {
  const RecvChunk c = ctx_.transport->endpoint(peer).peek();
  return !c.empty() && c.signal < 0;
}

// A data chunk from a peer whose flag this rank waits for: the peer runs a call through the FIFO
// where this rank runs a flag plan (the ranks' counts or calls differ).
Status PlanRun::flagAgainstMessage(const Op& op) {
  const RecvChunk c = ctx_.transport->endpoint(op.peer).peek();
  return makeError(strataInvalidUsage,
                   "%s (%s): rank %d sent %s, a message of %llu bytes, where this rank (rank %d) "
                   "expects %s of %zu bytes through the flags (mismatched calls or counts "
                   "between the ranks)",
                   items_[item_].collName, items_[item_].plan->algo.c_str(), op.peer,
                   describeCall(c.call).c_str(), static_cast<unsigned long long>(c.msgBytes),
                   ctx_.rank, describeCall(items_[item_].call).c_str(), op.elems);
}

Status PlanRun::flagMismatch(const Op& op, const FlagTag& theirs) const {
  auto describe = [](const FlagTag& t) {
    return describeCall(t.call) + format(" of %llu bytes", static_cast<unsigned long long>(t.bytes)) +
           (t.root >= 0 ? format(" from root %lld", static_cast<long long>(t.root)) : "");
  };
  return makeError(strataInvalidUsage,
                   "%s (%s): rank %d posted %s, this rank (rank %d) expects %s (the ranks called "
                   "different collectives, or in a different order, or with different counts or "
                   "roots)",
                   items_[item_].collName, items_[item_].plan->algo.c_str(), op.peer,
                   describe(theirs).c_str(), ctx_.rank, describe(flagTagOf(op)).c_str());
}

// A chunk must belong to this call, to a message of the size the op expects, and fit in what is
// left of it.
Status PlanRun::checkChunk(const Op& op, const RecvChunk& c, size_t got) const {
  if (c.call != items_[item_].call) {
    return makeError(strataInvalidUsage,
                     "%s (%s): rank %d sent %s, this rank (rank %d) expects %s (the ranks called "
                     "different collectives, or in a different order, or with different roots)",
                     items_[item_].collName, items_[item_].plan->algo.c_str(), op.peer,
                     describeCall(c.call).c_str(), ctx_.rank,
                     describeCall(items_[item_].call).c_str());
  }
  if (c.msgBytes == op.bytes && got + c.bytes <= op.bytes) return Status::ok();
  if (op.upTo && c.msgBytes <= op.bytes && got + c.bytes <= c.msgBytes) return Status::ok();

  return makeError(strataInvalidUsage,
                   "%s (%s): rank %d sent a message of %llu bytes where rank %d expected "
                   "%zu (mismatched counts, types or call order between the ranks)",
                   items_[item_].collName, items_[item_].plan->algo.c_str(), op.peer,
                   static_cast<unsigned long long>(c.msgBytes), ctx_.rank, op.bytes);
}

// A large forwarding op passes each chunk through cache once: the chunk is reduced into a small
// bounce buffer (or, copied, read straight from the transport), forwarded from there while
// still in cache, and written to dst with non-temporal stores, which skip reading dst's lines
// in. Only when the next hop's FIFO is full is anything forwarded later, from dst.
Result<bool> PlanRun::forwardStreaming(const Op& op, size_t i, bool* progressed) {
  size_t& done = done_[i];
  size_t& fwd = forwarded_[i];
  const size_t from = static_cast<size_t>(op.peer);
  const size_t to = static_cast<size_t>(op.peer2);
  std::byte* dst = at(op.dst);
  const std::byte* local = op.kind == OpKind::kRecvReduceSend ? at(op.src) : nullptr;
  Endpoint& in = ctx_.transport->endpoint(op.peer);
  const ReduceFn fn = local != nullptr ? reduceKernel(op.dtype, op.redop) : nullptr;
  const size_t es = dtypeSize(op.dtype);
  bool moved = true;
  while (moved) {
    moved = false;
    if (sendBusy_[to] != pass_) pushSome(op.peer2, dst, fwd, done, op.bytes, &moved);
    if (recvBusy_[from] != pass_ && done < op.bytes) absorbSignals(op.peer);
    const RecvChunk c = recvBusy_[from] != pass_ && done < op.bytes ? in.peek() : RecvChunk{};
    if (!c.empty()) {
      STRATA_CHECK(checkChunk(op, c, done));
      const std::byte* out = c.data;
      if (local != nullptr) {
        if (bounce_.size() < c.bytes) bounce_.resize(c.bytes);
        const size_t n = c.bytes / es;
        if (op.incomingFirst) fn(bounce_.data(), c.data, local + done, n);
        else fn(bounce_.data(), local + done, c.data, n);
        out = bounce_.data();
      }
      copyStreaming(dst + done, out, c.bytes);
      if (fwd == done && sendBusy_[to] != pass_) fwd += pushFrom(op.peer2, out, c.bytes, op.bytes);
      in.pop();
      done += c.bytes;
      ++counters_.syncs;
      moved = true;
    }
    if (moved) *progressed = true;
  }
  if (done < op.bytes) recvBusy_[from] = pass_;
  if (fwd < op.bytes) sendBusy_[to] = pass_;
  return done == op.bytes && fwd == op.bytes;
}

// Consumes arrived chunks of op's message from op.peer into dst (copying, or reducing with the
// local operand when `local` is set); `got` counts bytes consumed.
Status PlanRun::receiveSome(const Op& op, std::byte* dst, const std::byte* local, size_t& got,
                            bool* progressed) {
  Endpoint& ep = ctx_.transport->endpoint(op.peer);
  const ReduceFn fn = local != nullptr ? reduceKernel(op.dtype, op.redop) : nullptr;
  const size_t es = dtypeSize(op.dtype);
  size_t want = op.bytes;
  while (got < want) {
    RecvChunk c = ep.peek();
    if (c.empty()) break;
    if (c.signal >= 0) {  // a signal for a later wait, behind the bytes before it
      absorbSignals(op.peer);
      continue;
    }
    STRATA_CHECK(checkChunk(op, c, got));
    if (op.upTo) want = static_cast<size_t>(c.msgBytes);
    if (op.kind == OpKind::kRecvDequantize) {
      // Straight out of the transport's slot into the caller's buffer: the values are read once.
      const size_t perByte = op.dtype == kPackedInt4 ? 2 : 1;
      const size_t first = got * perByte;
      const size_t m = std::min(c.bytes * perByte, op.elems - first);
      dequantizeRange(op.dtype, c.data, reinterpret_cast<const float*>(at(op.scales)),
                      op.blockElems, first, m, op.dstType, dst + first * dtypeSize(op.dstType));
    } else if (local == nullptr) {
      // A large final copy would only evict useful lines; forwarded data is read again at once.
      if (op.bytes >= kStreamingCopyBytes && op.kind == OpKind::kRecv)
        copyStreaming(dst + got, c.data, c.bytes);
      else
        std::memcpy(dst + got, c.data, c.bytes);
    } else {
      const size_t n = c.bytes / es;
      if (op.incomingFirst) fn(dst + got, c.data, local + got, n);
      else fn(dst + got, local + got, c.data, n);
    }
    ep.pop();
    got += c.bytes;
    ++counters_.syncs;
    *progressed = true;
  }
  // A shorter message has fully landed: the op is complete.
  if (op.upTo && got == want) got = op.bytes;
  return Status::ok();
}

Result<bool> PlanRun::progressOp(const Op& op, size_t i, bool* progressed) {
  size_t& done = done_[i];
  const size_t peer = static_cast<size_t>(op.peer);
  switch (op.kind) {
    case OpKind::kSend: {
      if (sendBusy_[peer] == pass_) return false;
      pushSome(op.peer, at(op.src), done, op.bytes, op.bytes, progressed);
      if (done < op.bytes) sendBusy_[peer] = pass_;
      return done == op.bytes;
    }
    case OpKind::kRecv:
    case OpKind::kRecvReduce:
    case OpKind::kRecvDequantize: {
      if (recvBusy_[peer] == pass_) return false;
      const std::byte* local = op.kind == OpKind::kRecvReduce ? at(op.src) : nullptr;
      STRATA_CHECK(receiveSome(op, at(op.dst), local, done, progressed));
      if (done < op.bytes) recvBusy_[peer] = pass_;
      return done == op.bytes;
    }
    case OpKind::kRecvReduceSend:
    case OpKind::kRecvCopySend: {
      if (op.bytes >= kStreamingForwardBytes) return forwardStreaming(op, i, progressed);
      // Receive into dst and forward what has landed, chunk by chunk, so the data is sent on
      // while still in cache and the next hop starts before this one ends.
      size_t& fwd = forwarded_[i];
      const size_t to = static_cast<size_t>(op.peer2);
      const std::byte* local = op.kind == OpKind::kRecvReduceSend ? at(op.src) : nullptr;
      bool moved = true;
      while (moved) {
        moved = false;
        if (recvBusy_[peer] != pass_ && done < op.bytes) {
          STRATA_CHECK(receiveSome(op, at(op.dst), local, done, &moved));
        }
        if (sendBusy_[to] != pass_ && fwd < done) {
          pushSome(op.peer2, at(op.dst), fwd, done, op.bytes, &moved);
        }
        *progressed = *progressed || moved;
      }
      if (done < op.bytes) recvBusy_[peer] = pass_;
      if (fwd < op.bytes) sendBusy_[to] = pass_;
      return done == op.bytes && fwd == op.bytes;
    }
    case OpKind::kSignal: {
      if (sendBusy_[peer] == pass_) return false;
      if (!ctx_.transport->endpoint(op.peer).pushSignal(op.index)) {
        sendBusy_[peer] = pass_;
        return false;
      }
      *progressed = true;
      return true;
    }
    case OpKind::kWait: {
      uint64_t& count = signalCount(op.peer, op.index);
      if (count == 0) absorbSignals(op.peer);
      if (count == 0) return false;
      --count;
      ++counters_.syncs;
      *progressed = true;
      return true;
    }
    case OpKind::kFlagPost:
      ctx_.transport->postFlag(flagSeq_, flagTagOf(op), op.bytes ? at(op.src) : nullptr, op.bytes);
      *progressed = true;
      return true;
    case OpKind::kFlagWait: {
      FlagTag theirs;
      if (!ctx_.transport->flagReached(op.peer, flagSeq_, &theirs)) {
        // A peer posts its flag before it can move on to its next call, so a message seen
        // here (acquire) with the flag still down afterwards belongs to this call.
        if (!messageWaiting(op.peer)) return false;
        if (!ctx_.transport->flagReached(op.peer, flagSeq_, &theirs)) return flagAgainstMessage(op);
      }
      if (!(theirs == flagTagOf(op))) return flagMismatch(op, theirs);
      ++counters_.syncs;
      *progressed = true;
      return true;
    }
    case OpKind::kPut: {
      if (sendBusy_[peer] == pass_) return false;
      STRATA_CHECK(ctx_.transport->put(op.peer, op.index, op.dstOffset, at(op.src), op.bytes));
      counters_.bytesSent += op.bytes;
      counters_.bytesPerLevel[ctx_.peerLevel ? ctx_.peerLevel[peer] : 0] += op.bytes;
      *progressed = true;
      return true;
    }
    case OpKind::kCopy:
    case OpKind::kReduceLocal:
    case OpKind::kTransform:
    case OpKind::kDivide:
    case OpKind::kCallback:
      STRATA_CHECK(runLocal(op));
      *progressed = true;
      return true;
  }
  return makeError(strataInternalError, "unknown op kind %d", static_cast<int>(op.kind));
}

Result<bool> PlanRun::progress(bool* progressed) {
  *progressed = false;
  while (item_ < items_.size()) {
    const Phase& ph = items_[item_].plan->phases[phase_];
    ++pass_;  // a new pass: no peer is busy yet (no per-pass clearing of the arrays)
    bool all = true;
    for (size_t i = 0; i < ph.ops.size(); ++i) {
      if (finished_[i]) continue;
      const Op& op = ph.ops[i];
      if (!op.after.empty() && !ready(op)) {
        holdChannels(op);
        all = false;
        continue;
      }
      auto r = progressOp(op, i, progressed);
      if (!r.isOk()) return r.status();
      if (r.value()) finished_[i] = 1;
      else all = false;
    }
    if (!all) return false;
    if (timed_) ctx_.transport->phaseEnd();
    ++counters_.steps;
    ++phase_;
    startPhase();
    *progressed = true;
  }
  return true;
}

std::string PlanRun::describeWait() const {
  if (item_ >= items_.size()) return "nothing";
  const RunItem& it = items_[item_];
  const Phase& ph = it.plan->phases[phase_];
  std::string what;
  auto note = [&](const char* verb, int peer, size_t done, size_t total) {
    if (done >= total) return;
    if (!what.empty()) what += ", ";
    what += format("%s rank %d (%zu of %zu bytes done)", verb, peer, done, total);
  };
  for (size_t i = 0; i < ph.ops.size(); ++i) {
    const Op& op = ph.ops[i];
    switch (op.kind) {
      case OpKind::kSend: note("sending to", op.peer, done_[i], op.bytes); break;
      case OpKind::kRecv:
      case OpKind::kRecvReduce:
      case OpKind::kRecvDequantize: note("receiving from", op.peer, done_[i], op.bytes); break;
      case OpKind::kRecvReduceSend:
      case OpKind::kRecvCopySend:
        note("receiving from", op.peer, done_[i], op.bytes);
        note("forwarding to", op.peer2, forwarded_[i], op.bytes);
        break;
      case OpKind::kSignal:
      case OpKind::kWait:
      case OpKind::kPut:
        if (!finished_[i]) {
          if (!what.empty()) what += ", ";
          what += format("%s %s rank %d (channel or window %d)", opKindName(op.kind),
                         op.kind == OpKind::kWait ? "from" : "to", op.peer, op.index);
        }
        break;
      case OpKind::kFlagWait:
        if (!finished_[i]) {
          if (!what.empty()) what += ", ";
          what += format("flag of rank %d to reach %llu", op.peer,
                         static_cast<unsigned long long>(flagSeq_));
        }
        break;
      case OpKind::kFlagPost:
      case OpKind::kCopy:
      case OpKind::kReduceLocal:
      case OpKind::kTransform:
      case OpKind::kDivide:
      case OpKind::kCallback:
        break;
    }
  }
  return format("%s (%s) phase %zu of %zu: %s", it.collName, it.plan->algo.c_str(), phase_ + 1,
                it.plan->phases.size(), what.c_str());
}

namespace {

// Ops that wait on their peer's progress (as opposed to sends and puts, which wait only for room).
bool waitsOnPeer(OpKind kind) {
  switch (kind) {
    case OpKind::kRecv:
    case OpKind::kRecvReduce:
    case OpKind::kRecvDequantize:
    case OpKind::kRecvReduceSend:
    case OpKind::kRecvCopySend:
    case OpKind::kWait:
    case OpKind::kFlagWait: return true;
    default: return false;
  }
}

}  // namespace

int PlanRun::firstWaitedPeer() const {
  if (item_ >= items_.size()) return -1;
  const Phase& ph = items_[item_].plan->phases[phase_];
  int other = -1;
  for (size_t i = 0; i < ph.ops.size(); ++i) {
    const Op& op = ph.ops[i];
    if (finished_[i] || op.peer < 0) continue;
    if (waitsOnPeer(op.kind)) return op.peer;
    if (other < 0) other = op.peer;
  }
  return other;
}

std::vector<int> PlanRun::waitedPeers() const {
  std::vector<int> peers;
  if (item_ >= items_.size()) return peers;
  const Phase& ph = items_[item_].plan->phases[phase_];
  for (size_t i = 0; i < ph.ops.size(); ++i) {
    const Op& op = ph.ops[i];
    if (finished_[i] || op.peer < 0 || !waitsOnPeer(op.kind)) continue;
    if (std::find(peers.begin(), peers.end(), op.peer) == peers.end()) peers.push_back(op.peer);
  }
  return peers;
}

std::string PlanRun::describeStatus(long waitedMs) const {
  const std::string& label = *ctx_.label;
  if (item_ >= items_.size()) {
    return format("strata status: %s: last completed op #%llu, none pending\n", label.c_str(),
                  static_cast<unsigned long long>(completed_));
  }
  const RunItem& it = items_[item_];
  std::string out = format(
      "strata status: %s: last completed op #%llu, pending op #%llu: %s (algorithm %s), "
      "phase %zu of %zu, no progress for %ld ms\n",
      label.c_str(), static_cast<unsigned long long>(completed_),
      static_cast<unsigned long long>(seq_), it.collName, it.plan->algo.c_str(), phase_ + 1,
      it.plan->phases.size(), waitedMs);
  for (int peer : waitedPeers()) {
    out += format("strata status: %s: op #%llu %s waiting on rank %d for %ld ms\n", label.c_str(),
                  static_cast<unsigned long long>(seq_), it.collName, peer, waitedMs);
  }
  out += format("strata status: %s: op #%llu is %s\n", label.c_str(),
                static_cast<unsigned long long>(seq_), describeWait().c_str());
  return out;
}

namespace {

// Reports every unfinished run's status (emitStatus), each in one write so ranks' lines stay whole.
void reportStatus(PlanRun* const* runs, size_t count, const char* finished,
                  const std::chrono::steady_clock::time_point* last) {
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < count; ++i) {
    if (finished[i]) continue;
    const long waited = static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - last[i]).count());
    emitStatus(runs[i]->describeStatus(waited));
  }
}

Status checkWait(PlanRun& run, std::chrono::steady_clock::time_point lastProgress,
                 bool checkPeers) {
  const RunContext& ctx = run.context();
  if (ctx.abort && ctx.abort->load(std::memory_order_relaxed)) {
    return makeError(strataRemoteError, "%s: communicator aborted while %s", ctx.label->c_str(),
                     run.describeWait().c_str());
  }
  if (checkPeers) {
    Status s = ctx.transport->checkPeers();
    if (!s.isOk()) {
      return Status(s.code(), format("%s: %s while %s", ctx.label->c_str(), s.message().c_str(),
                                     run.describeWait().c_str()));
    }
  }
  if (ctx.timeoutMs > 0 &&
      std::chrono::steady_clock::now() - lastProgress > std::chrono::milliseconds(ctx.timeoutMs)) {
    // Whom the wait blames travels with an abort of this rank; a stopped peer is named too.
    if (int peer = run.firstWaitedPeer(); peer >= 0) ctx.transport->noteCulprit(peer);
    const std::string stopped = ctx.transport->describeStoppedPeers();
    return makeError(strataTimeout, "%s: no progress for %ld ms while %s%s%s", ctx.label->c_str(),
                     ctx.timeoutMs, run.describeWait().c_str(), stopped.empty() ? "" : "; ",
                     stopped.c_str());
  }
  return Status::ok();
}

}  // namespace

Status runToCompletion(PlanRun* const* runs, size_t count) {
  using Clock = std::chrono::steady_clock;
  // Groups rarely span many communicators; small fixed arrays keep the hot path allocation-free.
  constexpr size_t kInline = 16;
  Clock::time_point lastInline[kInline];
  char finishedInline[kInline] = {};
  std::vector<Clock::time_point> lastHeap;
  std::vector<char> finishedHeap;
  Clock::time_point* last = lastInline;
  char* finished = finishedInline;
  if (count > kInline) {
    lastHeap.resize(count);
    finishedHeap.assign(count, 0);
    last = lastHeap.data();
    finished = finishedHeap.data();
  }
  // The no-progress clock starts once the run first waits, so a call that completes at once
  // never reads the clock.
  bool clockStarted = false;
  uint64_t seenRequests = statusRequests();
  size_t remaining = count;
  Backoff backoff;
  while (remaining > 0) {
    bool any = false;
    for (size_t i = 0; i < count; ++i) {
      if (finished[i]) continue;
      bool moved = false;
      auto r = runs[i]->progress(&moved);
      if (!r.isOk()) return r.status();
      if (moved) {
        any = true;
        if (clockStarted) last[i] = Clock::now();
      }
      if (r.value()) {
        finished[i] = 1;
        runs[i]->noteCompleted();
        --remaining;
      }
    }
    if (any || remaining == 0) {
      backoff.reset();
      continue;
    }
    if (!clockStarted) {
      clockStarted = true;
      const Clock::time_point now = Clock::now();
      for (size_t i = 0; i < count; ++i) last[i] = now;
    }
    backoff.idle();
    // Abort is checked on every idle pass; the clock and peers once the wait has settled.
    const bool settled = backoff.sleeping() || (backoff.idleCount() & 63) == 0;
    if (settled && statusRequests() != seenRequests) {
      seenRequests = statusRequests();
      reportStatus(runs, count, finished, last);
    }
    for (size_t i = 0; i < count; ++i) {
      if (finished[i]) continue;
      const RunContext& ctx = runs[i]->context();
      if (!settled && !(ctx.abort && ctx.abort->load(std::memory_order_relaxed))) continue;
      Status s = checkWait(*runs[i], last[i], settled);
      if (s.isOk()) continue;
      // A peer may have sent before it exited or failed: what it sent last (this call's data,
      // or a message of another call that shows why) is consumed before its failure is
      // reported. A peer that finished its part and exited is no failure of this call.
      bool moved = false;
      auto r = runs[i]->progress(&moved);
      if (!r.isOk()) return r.status();
      if (!moved && !r.value()) return s;
      last[i] = Clock::now();
      if (r.value()) {
        finished[i] = 1;
        runs[i]->noteCompleted();
        --remaining;
      }
    }
  }
  return Status::ok();
}

}  // namespace strata
