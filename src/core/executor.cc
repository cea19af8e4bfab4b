#include "core/executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/backoff.h"
#include "core/logging.h"
#include "reduce/reduce.h"

namespace strata {

PlanRun::PlanRun(RunContext ctx, std::vector<RunItem> items)
    : ctx_(std::move(ctx)), items_(std::move(items)) {
  startPhase();
}

void PlanRun::reset(const RunContext& ctx) {
  ctx_ = ctx;
  items_.clear();
  item_ = 0;
  phase_ = 0;
  counters_ = ExecCounters{};
}

void PlanRun::start() { startPhase(); }

std::byte* PlanRun::at(const BufRef& r) const { return items_[item_].base(r.slot) + r.offset; }

void PlanRun::startPhase() {
  while (item_ < items_.size() && phase_ >= items_[item_].plan->phases.size()) {
    ++item_;
    phase_ = 0;
  }
  if (item_ >= items_.size()) return;
  const Phase& ph = items_[item_].plan->phases[phase_];
  done_.assign(ph.ops.size(), 0);
  const size_t n = static_cast<size_t>(items_[item_].plan->nranks);
  sendBusy_.assign(n, 0);
  recvBusy_.assign(n, 0);
}

Status PlanRun::runLocal(const Op& op) {
  const Plan& plan = *items_[item_].plan;
  switch (op.kind) {
    case OpKind::kCopy:
      std::memmove(at(op.dst), at(op.src), op.bytes);
      break;
    case OpKind::kReduceLocal: {
      ReduceFn fn = reduceKernel(plan.dtype, plan.op);
      if (!fn) return makeError(strataInternalError, "no reduction kernel for this type/op");
      fn(at(op.dst), at(op.src), at(op.src2), op.bytes / dtypeSize(plan.dtype));
      break;
    }
    case OpKind::kWiden:
      toFloat32(plan.userDtype, at(op.src), reinterpret_cast<float*>(at(op.dst)), op.elems);
      break;
    case OpKind::kNarrow:
      fromFloat32(plan.userDtype, reinterpret_cast<const float*>(at(op.src)), at(op.dst), op.elems);
      break;
    case OpKind::kDivide:
      divideInPlace(op.divideType, at(op.dst), op.elems, plan.nranks);
      break;
    default:
      return makeError(strataInternalError, "op kind is not local");
  }
  return Status::ok();
}

Result<bool> PlanRun::progressOp(const Op& op, size_t i, bool* progressed) {
  size_t& done = done_[i];
  const size_t peer = static_cast<size_t>(op.peer);
  switch (op.kind) {
    case OpKind::kSend: {
      if (sendBusy_[peer]) return false;
      Endpoint& ep = ctx_.transport->endpoint(op.peer);
      while (done < op.bytes) {
        size_t n = ep.push(at(op.src) + done, op.bytes - done, op.bytes);
        if (n == 0) break;
        done += n;
        counters_.bytesSent += n;
        *progressed = true;
      }
      if (done < op.bytes) {
        sendBusy_[peer] = 1;
        return false;
      }
      return true;
    }
    case OpKind::kRecv:
    case OpKind::kRecvReduce: {
      if (recvBusy_[peer]) return false;
      Endpoint& ep = ctx_.transport->endpoint(op.peer);
      const Plan& plan = *items_[item_].plan;
      while (done < op.bytes) {
        RecvChunk c = ep.peek();
        if (c.empty()) break;
        if (c.msgBytes != op.bytes || done + c.bytes > op.bytes) {
          return makeError(strataInvalidUsage,
                           "%s (%s): rank %d sent a message of %llu bytes where rank %d expected "
                           "%zu (mismatched counts, types or call order between the ranks)",
                           items_[item_].collName, plan.algo.c_str(), op.peer,
                           static_cast<unsigned long long>(c.msgBytes), ctx_.rank, op.bytes);
        }
        if (op.kind == OpKind::kRecv) {
          std::memcpy(at(op.dst) + done, c.data, c.bytes);
        } else {
          ReduceFn fn = reduceKernel(plan.dtype, plan.op);
          fn(at(op.dst) + done, at(op.src) + done, c.data, c.bytes / dtypeSize(plan.dtype));
        }
        ep.pop();
        done += c.bytes;
        ++counters_.syncs;
        *progressed = true;
      }
      if (done < op.bytes) {
        recvBusy_[peer] = 1;
        return false;
      }
      return true;
    }
    default: {
      if (done == op.bytes + op.elems + 1) return true;  // already ran
      STRATA_CHECK(runLocal(op));
      done = op.bytes + op.elems + 1;
      *progressed = true;
      return true;
    }
  }
}

Result<bool> PlanRun::progress(bool* progressed) {
  *progressed = false;
  while (item_ < items_.size()) {
    const Phase& ph = items_[item_].plan->phases[phase_];
    std::fill(sendBusy_.begin(), sendBusy_.end(), 0);
    std::fill(recvBusy_.begin(), recvBusy_.end(), 0);
    bool all = true;
    for (size_t i = 0; i < ph.ops.size(); ++i) {
      auto r = progressOp(ph.ops[i], i, progressed);
      if (!r.isOk()) return r.status();
      all = all && r.value();
    }
    if (!all) return false;
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
  for (size_t i = 0; i < ph.ops.size(); ++i) {
    const Op& op = ph.ops[i];
    bool comm = op.kind == OpKind::kSend || op.kind == OpKind::kRecv ||
                op.kind == OpKind::kRecvReduce;
    if (!comm || done_[i] >= op.bytes) continue;
    if (!what.empty()) what += ", ";
    what += format("%s rank %d (%zu of %zu bytes done)",
                   op.kind == OpKind::kSend ? "sending to" : "receiving from", op.peer, done_[i],
                   op.bytes);
  }
  return format("%s (%s) phase %zu of %zu: %s", it.collName, it.plan->algo.c_str(), phase_ + 1,
                it.plan->phases.size(), what.c_str());
}

namespace {

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
    return makeError(strataTimeout, "%s: no progress for %ld ms while %s", ctx.label->c_str(),
                     ctx.timeoutMs, run.describeWait().c_str());
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
    for (size_t i = 0; i < count; ++i) {
      if (finished[i]) continue;
      const RunContext& ctx = runs[i]->context();
      if (!settled && !(ctx.abort && ctx.abort->load(std::memory_order_relaxed))) continue;
      Status s = checkWait(*runs[i], last[i], settled);
      if (!s.isOk()) return s;
    }
  }
  return Status::ok();
}

}  // namespace strata
