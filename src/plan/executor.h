// The executor walks plans over a transport. A PlanRun is a small state machine: progress()
// advances every op of the current phase as far as the transport allows, never blocking.
// runToCompletion() drives one or more runs (one per communicator of a group) with a backing-off
// wait that checks the abort flag, peer liveness and the no-progress deadline.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "plan/coll_args.h"
#include "base/deadline.h"
#include "plan/plan.h"
#include "base/status.h"
#include "strata/strata.h"
#include "transports/transport.h"

namespace strata {

// A callback a plan's kCallback ops call: the range's address, its offset in elements from the
// start of its buffer, its element count and type, and the user pointer bound with it.
using PlanCallbackFn = void (*)(void* range, size_t elemOffset, size_t elemCount,
                                strataDataType_t dtype, void* user);
struct PlanCallback {
  PlanCallbackFn fn = nullptr;
  void* user = nullptr;
};

// One plan with the addresses of its buffer slots and the callbacks bound for this call.
struct RunItem {
  PlanPtr plan;
  std::byte* bases[kFirstExtraBuf] = {};  // indexed by BufSlot
  std::vector<std::byte*> extras;         // slots kFirstExtraBuf... (fused Send/Recv)
  std::vector<PlanCallback> callbacks;    // kCallback index
  // Every rank's send and receive buffer as mapped in this process, indexed by rank, for plans
  // that address other ranks' buffers (calls whose buffers lie in registered windows).
  std::vector<std::byte*> peerSend, peerRecv;
  const char* collName = "";
  // The call's CallTag, packed (plan/call_tag.h): pushed with every chunk of the item and
  // required of every chunk it receives. 0 when the caller does not tag its calls.
  uint64_t call = 0;

  std::byte* base(int slot) const {
    return slot < kFirstExtraBuf ? bases[slot] : extras[static_cast<size_t>(slot - kFirstExtraBuf)];
  }
  std::byte* peerBase(int slot, int rank) const {
    return (slot == kSendBuf ? peerSend : peerRecv)[static_cast<size_t>(rank)];
  }
};

// Counters a communicator exposes as statistics.
struct ExecCounters {
  uint64_t bytesSent = 0;
  uint64_t bytesPerLevel[STRATA_MAX_LEVELS] = {};  // by the topology level of the receiver
  uint64_t steps = 0;  // phases completed
  uint64_t syncs = 0;  // chunk handshakes and signal waits completed
  uint64_t callBytes = 0;  // CollArgs::messageBytes of the calls run (set by the runtime)
};

// What a run needs from its communicator while waiting.
struct RunContext {
  Transport* transport = nullptr;
  const AbortFlag* abort = nullptr;
  long timeoutMs = 0;  // no progress for this long -> strataTimeout; <= 0 waits forever
  int rank = 0;
  const std::string* label = nullptr;  // "comm 'x' rank 2 of 4", for messages
  const uint8_t* peerLevel = nullptr;   // topology level of each peer; null: all level 0
};

class PlanRun {
 public:
  PlanRun() = default;
  PlanRun(RunContext ctx, std::vector<RunItem> items);

  // Starts over with new items, keeping allocated capacity (no allocation on the hot path).
  void reset(const RunContext& ctx);
  std::vector<RunItem>& items() { return items_; }
  // Call after filling items().
  void start();

  // The calls the run was last prepared for, when every one has a key. The same calls again
  // (other buffers allowed) only need their buffers rebound and restart(), skipping planning:
  // the common loop of one shape.
  void notePrepared(const CollArgs* calls, size_t count);
  bool preparedFor(const CollArgs* calls, size_t count) const;
  // Starts the prepared items over from the first phase.
  void restart();

  // Advances as far as possible. *progressed tells whether anything moved. Returns true once
  // every item has completed.
  Result<bool> progress(bool* progressed);

  // What the run is waiting for, for timeout messages ("receive of 4096 bytes from rank 1 ...").
  std::string describeWait() const;
  // The first peer an unfinished op of the current phase waits to hear from (a receive, a wait),
  // else the first it waits to reach; -1 when none.
  int firstWaitedPeer() const;
  // Every peer an unfinished receive or wait of the current phase waits to hear from.
  std::vector<int> waitedPeers() const;
  // The answer to a status request (SIGUSR1): lines naming this rank, the last completed and the
  // pending operation, its collective and algorithm, and the peers it waits on for `waitedMs`.
  std::string describeStatus(long waitedMs) const;

  // Operations are numbered from 1 per run state (one per communicator): start() and restart()
  // begin the next; runToCompletion marks it completed.
  uint64_t pendingSeq() const { return seq_; }
  uint64_t completedSeq() const { return completed_; }
  void noteCompleted() { completed_ = seq_; }

  const RunContext& context() const { return ctx_; }
  const ExecCounters& counters() const { return counters_; }

 private:
  Result<bool> progressOp(const Op& op, size_t i, bool* progressed);
  Status runLocal(const Op& op);
  bool ready(const Op& op) const;
  void holdChannels(const Op& op);
  // Counts the signals at the head of peer's FIFO (they carry no payload) and pops them.
  void absorbSignals(int peer);
  uint64_t& signalCount(int peer, int channel) {
    return signals_[static_cast<size_t>(peer) * kSignalChannels + static_cast<size_t>(channel)];
  }
  size_t pushFrom(int peer, const std::byte* src, size_t bytes, size_t total);
  void pushSome(int peer, const std::byte* src, size_t& sent, size_t limit, size_t total,
                bool* progressed);
  Status checkChunk(const Op& op, const RecvChunk& c, size_t got) const;
  FlagTag flagTagOf(const Op& op) const;
  // Whether a data chunk (not a signal) from peer waits in its FIFO.
  bool messageWaiting(int peer);
  Status flagAgainstMessage(const Op& op);
  Status flagMismatch(const Op& op, const FlagTag& theirs) const;
  Result<bool> forwardStreaming(const Op& op, size_t i, bool* progressed);
  Status receiveSome(const Op& op, std::byte* dst, const std::byte* local, size_t& got,
                     bool* progressed);
  std::byte* at(const BufRef& r) const;
  // Where rank's copy of a buffer slot is mapped here (peers' buffers, every rank's flag slot).
  std::byte* rankBase(int slot, int rank) const;
  void startPhase();

  RunContext ctx_;
  bool timed_ = false;  // the transport keeps virtual time (sim): announce phases to it
  std::vector<RunItem> items_;
  size_t item_ = 0;
  size_t phase_ = 0;
  std::vector<size_t> done_;       // bytes done (received, for forwarding ops) per op
  std::vector<size_t> forwarded_;  // bytes forwarded per op (forwarding ops only)
  std::vector<char> finished_;     // per op of the phase: completed
  // Signals received and not yet consumed by a wait, per (peer, channel). They outlive a run:
  // a signal may arrive while its waiter is still in an earlier call.
  std::vector<uint64_t> signals_;
  // Per peer, the pass in which an earlier send (receive) of the phase was found unfinished.
  std::vector<uint64_t> sendBusy_;
  std::vector<uint64_t> recvBusy_;
  uint64_t pass_ = 0;
  ExecCounters counters_;
  std::vector<std::byte> bounce_;      // one reduced chunk on its way out (forwardStreaming)
  std::vector<const void*> operands_;  // a reduction's operands across ranks
  std::vector<CallKey> prepared_;      // empty: nothing to reuse
  uint64_t seq_ = 0;                   // the operation started last
  uint64_t completed_ = 0;             // the operation completed last
  // The flag sequence number of the current (or last) flag plan; flag plans number from 1.
  // Outlives runs like signals_: it counts every flag plan this communicator ran.
  uint64_t flagSeq_ = 0;
};

// Drives every run to completion. On the first failure, stops all of them and returns it.
Status runToCompletion(PlanRun* const* runs, size_t count);

}  // namespace strata
