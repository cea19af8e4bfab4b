// MoeChunkBoard: what a pipelined dispatch has delivered so far, shared between the thread that
// runs the dispatch (a stream's, or the caller's) and the caller that computes on its rows.
//
// Dispatch side: once every peer's first chunk has landed, the worker publishes the layout (the
// first row and row count of each (local slot, source rank) pair, where the rows end up); then,
// chunk by chunk, how many rows of each pair have landed. The caller takes landed rows it has
// not taken yet as contiguous ranges of one slot and one source (next()).
//
// Combine side: every delivered row belongs to one chunk of its source's tokens; a chunk travels
// back once the caller has handed back every row of it (rowsReady()).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/backoff.h"
#include "base/status.h"
#include "plan/executor.h"

namespace strata {

struct MoeChunk {
  int localExpert = -1;
  size_t firstRow = 0;
  size_t numRows = 0;
};

class MoeChunkBoard {
 public:
  // maxRows: rows a dispatch can deliver; maxChunks: chunk ids (source x chunks per source).
  MoeChunkBoard(int nranks, int localExperts, size_t maxRows, size_t maxChunks);

  // Caller: dispatch `gen` was issued (its rows are the ones next() hands out from now on).
  void issue(uint64_t gen) {
    caller_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    issued_.store(gen, std::memory_order_release);
  }
  // Worker, between chunks: on a thread of its own (a stream's), yields the core, so that a
  // caller sharing it (woken from a wait or its expert compute) takes the rows just published
  // now rather than when the worker's time slice ends. Nothing on the caller's own thread.
  void yieldToCaller();

  // Worker: dispatch `gen` starts; forgets the previous one.
  void begin(uint64_t gen);
  // Worker: the layout of the dispatch, per (source, slot) at [source x localExperts + slot]:
  // first row and rows in all; rows: the dispatch's total. Call before any landed().
  void publishLayout(const std::vector<size_t>& first, const std::vector<size_t>& count,
                     size_t rows);
  // Worker: a row of chunk `chunk` has landed (call before landed() covers it).
  void rowLanded(size_t row, size_t chunk);
  // Worker: the first `rows` rows of (source, slot) have landed.
  void landed(int source, int slot, size_t rows);
  // Worker: the dispatch failed; waiting callers return s.
  void fail(const Status& s);
  // Wakes the threads waiting on the board (after landed(), once per source and round).
  void wake();

  // Caller: the next landed range of local slot `slot` (-1: of any slot) not handed out yet.
  // Ok(true) with *out filled; Ok(false) once every row (of that slot) has been handed out
  // (out->numRows = 0); without `wait`, InProgress when nothing new has landed yet. Waits back
  // off, see `abort` and end with Timeout after timeoutMs (> 0) without a new row.
  Result<bool> next(int slot, bool wait, MoeChunk* out, const AbortFlag* abort, long timeoutMs);

  // Caller: rows [first, first + n) are final in the combine's expert output.
  Status rowsReady(const char* op, size_t first, size_t n);
  // Worker (combine): every row is final (an unpipelined combine).
  void allReady();
  // Worker (combine): whether every row of chunk `chunk` has been handed back.
  bool chunkReady(size_t chunk) const {
    return remaining_[chunk].load(std::memory_order_acquire) == 0;
  }
  // Worker (combine): waits until chunkReady(chunk); Timeout after timeoutMs (> 0), RemoteError
  // once `abort` is set.
  Status waitChunkReady(const char* op, size_t chunk, const AbortFlag* abort, long timeoutMs);

 private:
  enum : uint8_t { kNotLanded = 0, kLanded = 1, kReturned = 2 };
  // Caller: the layout of the issued dispatch, once it is published (false before).
  bool layoutKnown(Status* failure);
  // One idle step of a wait that saw events_ == seen: spin briefly, then block until wake() (or
  // 1 ms, for the abort and deadline checks).
  void idle(Backoff& backoff, uint64_t seen);

  const int nranks_;
  const int slots_;
  uint64_t gen_ = 0;  // worker: the dispatch running
  std::atomic<uint64_t> issued_{0};
  std::atomic<uint64_t> published_{0};  // the generation whose layout is published
  std::atomic<bool> failed_{false};
  // Waits spin this often before they block on wakeCv_.
  static constexpr uint64_t kSpinsBeforeBlocking = 256;
  std::atomic<uint64_t> events_{0};  // bumped by wake(): something a waiter may want happened
  std::atomic<std::thread::id> caller_{};  // the thread that issued the last dispatch
  std::mutex wakeMutex_;
  std::condition_variable wakeCv_;
  std::mutex failMutex_;
  Status failure_;
  std::vector<size_t> first_, count_;  // per (source, slot), written before published_
  size_t rows_ = 0;
  std::unique_ptr<std::atomic<size_t>[]> landed_;  // per (source, slot)
  std::unique_ptr<std::atomic<uint8_t>[]> rowState_;
  std::unique_ptr<std::atomic<int32_t>[]> remaining_;  // per chunk: rows not handed back
  std::vector<int32_t> rowChunk_;
  size_t maxRows_, maxChunks_;
  // Caller side: what next() has handed out, for generation handedGen_.
  uint64_t handedGen_ = 0;
  std::vector<size_t> handed_;
};

}  // namespace strata
