#include "moe/moe_chunk_board.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include <sched.h>

#include "base/deadline.h"

namespace strata {

MoeChunkBoard::MoeChunkBoard(int nranks, int localExperts, size_t maxRows, size_t maxChunks)
    : nranks_(nranks),
      slots_(localExperts),
      first_(static_cast<size_t>(nranks) * static_cast<size_t>(localExperts)),
      count_(first_.size()),
      landed_(new std::atomic<size_t>[first_.size()]),
      rowState_(new std::atomic<uint8_t>[maxRows]),
      remaining_(new std::atomic<int32_t>[maxChunks]),
      rowChunk_(maxRows),
      maxRows_(maxRows),
      maxChunks_(maxChunks),
      handed_(first_.size()) {
  for (size_t i = 0; i < first_.size(); ++i) landed_[i].store(0, std::memory_order_relaxed);
  for (size_t i = 0; i < maxRows; ++i) rowState_[i].store(kNotLanded, std::memory_order_relaxed);
  for (size_t i = 0; i < maxChunks; ++i) remaining_[i].store(0, std::memory_order_relaxed);
}

void MoeChunkBoard::begin(uint64_t gen) {
  gen_ = gen;
  for (size_t i = 0; i < first_.size(); ++i) landed_[i].store(0, std::memory_order_relaxed);
  for (size_t i = 0; i < rows_; ++i) rowState_[i].store(kNotLanded, std::memory_order_relaxed);
  for (size_t i = 0; i < maxChunks_; ++i) remaining_[i].store(0, std::memory_order_relaxed);
  rows_ = 0;
  failed_.store(false, std::memory_order_release);
}

void MoeChunkBoard::publishLayout(const std::vector<size_t>& first,
                                  const std::vector<size_t>& count, size_t rows) {
  std::copy(first.begin(), first.end(), first_.begin());
  std::copy(count.begin(), count.end(), count_.begin());
  rows_ = rows;
  published_.store(gen_, std::memory_order_release);
  wake();
}

void MoeChunkBoard::rowLanded(size_t row, size_t chunk) {
  rowChunk_[row] = static_cast<int32_t>(chunk);
  remaining_[chunk].fetch_add(1, std::memory_order_relaxed);
  rowState_[row].store(kLanded, std::memory_order_release);
}

void MoeChunkBoard::landed(int source, int slot, size_t rows) {
  landed_[static_cast<size_t>(source) * static_cast<size_t>(slots_) + static_cast<size_t>(slot)]
      .store(rows, std::memory_order_release);
}

void MoeChunkBoard::fail(const Status& s) {
  {
    std::lock_guard<std::mutex> lock(failMutex_);
    failure_ = s;
    failed_.store(true, std::memory_order_release);
  }
  wake();
}

void MoeChunkBoard::wake() {
  events_.fetch_add(1, std::memory_order_release);
  std::lock_guard<std::mutex> lock(wakeMutex_);
  wakeCv_.notify_all();
}

void MoeChunkBoard::yieldToCaller() {
  if (std::this_thread::get_id() != caller_.load(std::memory_order_relaxed)) sched_yield();
}

void MoeChunkBoard::idle(Backoff& backoff, uint64_t seen) {
  // A short spin, then block until wake(): the caller and the worker may share one core (a
  // launcher binds each rank to a core), where spinning or yielding would hold back the very
  // thread that is to publish the rows (or hand them back).
  if (backoff.idleCount() < kSpinsBeforeBlocking) {
    backoff.idle();
    return;
  }
  // The predicate runs under the lock wake() takes, so no wake-up is lost; the 1 ms bound is
  // for the abort and deadline checks.
  std::unique_lock<std::mutex> lock(wakeMutex_);
  wakeCv_.wait_for(lock, std::chrono::milliseconds(1),
                   [&] { return events_.load(std::memory_order_acquire) != seen; });
}

Status MoeChunkBoard::waitChunkReady(const char* op, size_t chunk, const AbortFlag* abort,
                                     long timeoutMs) {
  Backoff backoff;
  const Deadline deadline = Deadline::afterMs(timeoutMs);
  for (;;) {
    const uint64_t seen = events_.load(std::memory_order_acquire);
    if (chunkReady(chunk)) return Status::ok();
    if (abort && abort->load(std::memory_order_relaxed))
      return makeError(strataRemoteError, "%s: the communicator was aborted", op);
    if (deadline.expired())
      return makeError(strataTimeout,
                       "%s: the rows of chunk %zu of rank %zu's tokens were not handed back "
                       "(strataMoeCombineRowsReady) within %ld ms",
                       op, chunk % (maxChunks_ / static_cast<size_t>(nranks_)),
                       chunk / (maxChunks_ / static_cast<size_t>(nranks_)), timeoutMs);
    idle(backoff, seen);
  }
}

bool MoeChunkBoard::layoutKnown(Status* failure) {
  if (failed_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(failMutex_);
    *failure = failure_;
    return false;
  }
  const uint64_t gen = issued_.load(std::memory_order_acquire);
  if (published_.load(std::memory_order_acquire) != gen) return false;
  if (handedGen_ != gen) {
    std::fill(handed_.begin(), handed_.end(), 0);
    handedGen_ = gen;
  }
  return true;
}

Result<bool> MoeChunkBoard::next(int slot, bool wait, MoeChunk* out, const AbortFlag* abort,
                                 long timeoutMs) {
  *out = MoeChunk{};
  const int lo = slot < 0 ? 0 : slot;
  const int hi = slot < 0 ? slots_ : slot + 1;
  Backoff backoff;
  Deadline deadline = Deadline::afterMs(timeoutMs);
  for (;;) {
    const uint64_t seen = events_.load(std::memory_order_acquire);
    Status failure;
    if (layoutKnown(&failure)) {
      // The landed range from the earliest round: its rows' tokens travel back first in a
      // pipelined combine, so handing out in round order lets combine round c leave while the
      // caller still computes later rounds.
      // (Chunk ids are source x chunks per source + round.)
      const size_t perSource = maxChunks_ / static_cast<size_t>(nranks_);
      auto roundOf = [&](size_t row) { return static_cast<size_t>(rowChunk_[row]) % perSource; };
      bool pending = false;
      size_t best = 0, bestRound = SIZE_MAX, bestLanded = 0;
      for (int e = lo; e < hi; ++e)
        for (int s = 0; s < nranks_; ++s) {
          const size_t i =
              static_cast<size_t>(s) * static_cast<size_t>(slots_) + static_cast<size_t>(e);
          const size_t got = landed_[i].load(std::memory_order_acquire);
          if (handed_[i] < count_[i]) pending = true;
          if (got <= handed_[i]) continue;
          const size_t round = roundOf(first_[i] + handed_[i]);
          if (round < bestRound) {
            bestRound = round;
            best = i;
            bestLanded = got;
          }
        }
      if (bestRound != SIZE_MAX) {
        size_t end = handed_[best] + 1;
        while (end < bestLanded && roundOf(first_[best] + end) == bestRound) ++end;
        out->localExpert = static_cast<int>(best % static_cast<size_t>(slots_));
        out->firstRow = first_[best] + handed_[best];
        out->numRows = end - handed_[best];
        handed_[best] = end;
        return true;
      }
      if (!pending) return false;
    } else if (!failure.isOk()) {
      return failure;
    }
    if (!wait) return makeError(strataInProgress, "no new rows have landed yet");
    if (abort && abort->load(std::memory_order_relaxed))
      return makeError(strataRemoteError, "the communicator was aborted");
    if (deadline.expired())
      return makeError(strataTimeout, "no rows landed within the timeout of %ld ms",
                       deadline.timeoutMs());
    idle(backoff, seen);
  }
}

Status MoeChunkBoard::rowsReady(const char* op, size_t first, size_t n) {
  Status failure;
  if (!layoutKnown(&failure)) {
    if (!failure.isOk()) return failure;
    return makeError(strataInvalidUsage, "%s: no row of the dispatch has landed yet", op);
  }
  if (first > rows_ || n > rows_ - first)
    return makeError(strataInvalidArgument,
                     "%s: rows [%zu, %zu) are outside the %zu rows the dispatch delivered", op,
                     first, first + n, rows_);
  bool completed = false;
  for (size_t r = first; r < first + n; ++r) {
    uint8_t want = kLanded;
    if (!rowState_[r].compare_exchange_strong(want, kReturned, std::memory_order_acq_rel))
      return makeError(strataInvalidUsage, "%s: row %zu %s", op, r,
                       want == kReturned ? "was already handed back" : "has not landed yet");
    if (remaining_[static_cast<size_t>(rowChunk_[r])].fetch_sub(1, std::memory_order_acq_rel) == 1)
      completed = true;
  }
  // Only a completed chunk lets the worker go on: waking it for every range would hand it the
  // core (when it shares one with the caller) only to find its chunk still incomplete.
  if (completed) wake();
  return Status::ok();
}

void MoeChunkBoard::allReady() {
  for (size_t r = 0; r < rows_; ++r) rowState_[r].store(kReturned, std::memory_order_relaxed);
  for (size_t i = 0; i < maxChunks_; ++i) remaining_[i].store(0, std::memory_order_release);
}

}  // namespace strata
