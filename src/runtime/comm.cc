#include "runtime/comm.h"

#include <algorithm>

#include "base/logging.h"
#include "plan/call_tag.h"
#include "bootstrap/rescue.h"
#include "runtime/call_check.h"
#include "runtime/status_reporter.h"

namespace strata {

uint64_t Comm::nextCallTag(uint8_t kind) {
  const bool everyRank = kind != static_cast<uint8_t>(CallKind::kPointToPoint);
  const uint32_t seq = everyRank ? callSeq_.fetch_add(1) + 1 : callSeq_.load();
  return CallTag{seq, kind}.pack();
}

Comm::Comm(int rank, int nranks, CommConfig config)
    : rank_(rank), nranks_(nranks), config_(std::move(config)) {
  label_ = config_.commName.empty()
               ? format("rank %d of %d", rank_, nranks_)
               : format("comm '%s' rank %d of %d", config_.commName.c_str(), rank_, nranks_);
}

Comm::~Comm() {
  if (initThread_.joinable()) initThread_.join();
  unwatchForStatus(this);
}

RunContext Comm::runContext() const {
  RunContext c;
  c.transport = transport_.get();
  c.abort = &abort_;
  c.timeoutMs = config_.timeoutMs;
  c.rank = rank_;
  c.label = &label_;
  c.peerLevel = peerLevels_.empty() ? nullptr : peerLevels_.data();
  return c;
}

void Comm::fail(const Status& s) {
  if (s.isOk()) return;
  STRATA_WARN("%s failed: %s: %s", label().c_str(), strataGetErrorString(s.code()),
              s.message().c_str());
  if (transport_) transport_->markAborted();
  usable_.store(false, std::memory_order_release);
  errors_.fail(s);
  asyncError_ = s.code();
}

void Comm::addCounters(const ExecCounters& c, const char* algo, const char* source,
                       int64_t startPs) {
  stats_.add(c, startPs, transport_ ? transport_->virtualTimePs() : 0, algo, source);
}

CommStats Comm::stats() {
  CommStats s = stats_.snapshot();
  s.clockPs = std::max(s.clockPs, clocks_->latest());
  return s;
}

int64_t Comm::beginVirtual(uint64_t stream, int64_t stampPs) {
  if (!transport_ || !transport_->modelsTime()) return -1;
  transport_->advanceClockTo(std::max(clocks_->now(stream), stampPs));
  return transport_->virtualTimePs();
}

void Comm::endVirtual(uint64_t stream) {
  if (transport_ && transport_->modelsTime()) clocks_->advance(stream, transport_->virtualTimePs());
}

}  // namespace strata
