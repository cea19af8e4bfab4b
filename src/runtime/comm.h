// A communicator: one rank's membership in a group. It owns the bootstrap, transport and
// planner, and composes parts with one job each: the buffer arena (buffer_arena.h), statistics
// (comm_stats.h) and error state (error_state.h). Its life cycle (init, async init, finalize,
// abort, split) is in comm_lifecycle.cc.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/config.h"
#include "bootstrap/bootstrap.h"
#include "plan/coll_args.h"
#include "plan/executor.h"
#include "runtime/buffer_arena.h"
#include "runtime/comm_stats.h"
#include "runtime/error_state.h"
#include "runtime/virtual_clocks.h"
#include "runtime/window_table.h"
#include "scheduler/planner.h"
#include "topology/topology.h"
#include "transports/transport.h"

namespace strata {

class CallChecker;
class Rescue;

class Comm {
 public:
  Comm(int rank, int nranks, CommConfig config);
  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  // Exchanges peer information over `bootstrap`, connects the transport and builds the planner.
  // With a connector, the bootstrap is first obtained by calling it (nonblocking init does that
  // on a thread).
  using BootstrapConnector = std::function<Result<std::unique_ptr<Bootstrap>>()>;
  Status initialize(std::unique_ptr<Bootstrap> bootstrap);
  void initializeAsync(BootstrapConnector connect);
  Status initializeWith(const BootstrapConnector& connect);
  // strataSuccess once usable, strataInProgress while a nonblocking init runs, or the error.
  strataResult_t asyncState() const { return asyncError_.load(); }
  // Waits for a nonblocking init; returns why the communicator cannot be used, if it cannot.
  Status ready();

  int rank() const { return rank_; }
  int nranks() const { return nranks_; }
  const CommConfig& config() const { return config_; }
  Bootstrap& bootstrap() { return *bootstrap_; }
  Planner& planner() { return *planner_; }
  Transport& transport() { return *transport_; }
  AbortFlag& abortFlag() { return abort_; }
  std::mutex& execMutex() { return execMutex_; }

  RunContext runContext() const;
  // The run state reused by every call, and the arena its plans use (the exec mutex guards
  // both).
  PlanRun& run() { return run_; }
  BufferArena& arena() { return arena_; }

  // Marks the communicator failed: peers are told, later calls are refused.
  void fail(const Status& s);
  void recordError(const Status& s) { errors_.record(s); }
  std::string lastError() { return errors_.lastError(); }

  // Records one completed operation (a call or a fused group).
  // algo: the algorithm of the operation's last plan (statistics' lastAlgo); source: what chose
  // it (lastAlgoSource); startPs: where its virtual time began (beginVirtual), or -1 for where
  // the previous operation ended.
  void addCounters(const ExecCounters& c, const char* algo, const char* source,
                   int64_t startPs = -1);
  CommStats stats();

  // Per-stream virtual clocks (virtual_clocks.h); streams that ran work of this communicator
  // hold them weakly to join them on synchronize.
  const std::shared_ptr<VirtualClocks>& clocks() const { return clocks_; }
  // An operation on the stream with clock key `stream`, issued when the caller's clock read
  // stampPs, is about to run (exec mutex held): the transport's clock moves to its start, which
  // is returned (-1 when the transport models no time).
  int64_t beginVirtual(uint64_t stream, int64_t stampPs);
  // ... and has run: the stream's clock moves to the transport's.
  void endVirtual(uint64_t stream);

  // The topology of the communicator's ranks: the configured preset or file, or their hosts.
  const Topology& topology() const { return *topology_; }
  // Used instead of the configured topology file (a split child: its parent's, restricted).
  void inheritTopology(std::shared_ptr<const Topology> t) { topology_ = std::move(t); }

  // Queued work that still references this communicator (streams).
  std::atomic<int>& pending() { return pending_; }
  // Calls currently inside the communicator (for Abort/Destroy to wait on).
  std::atomic<int>& active() { return active_; }

  Status finalize();
  // Sets the abort flag and tells peers; waits until no call or queued work uses the comm.
  void abort();
  // Waits (bounded by the timeout) until no call or queued work uses the communicator.
  void drain();

  // The new communicator of this rank's color, or nullptr for STRATA_SPLIT_NOCOLOR.
  Result<std::unique_ptr<Comm>> split(int color, int key, const strataConfig_t* config);

  // strataCommShrink: the new communicator of the ranks not in `excluded` (checked by the
  // caller: in range, distinct, not this rank), renumbered densely in old order, over a fresh
  // bootstrap among them (bootstrap/rescue.h) that needs nothing of the excluded ranks. With
  // abortFirst (STRATA_SHRINK_ABORT), this communicator is aborted first, which ends its
  // pending calls; without it, it must be usable.
  Result<std::unique_ptr<Comm>> shrink(const std::vector<int>& excluded,
                                       const strataConfig_t* config, bool abortFirst);

  const std::string& label() const { return label_; }

  // The tag of the next call of `kind` (plan/call_tag.h), packed: collectives and MoE calls take
  // the next sequence number, Send/Recv the current one. Called in the order calls run.
  uint64_t nextCallTag(uint8_t kind);
  // The sequence number of the last collective or MoE call run (the next takes this + 1).
  uint32_t callsRun() const { return callSeq_.load(); }
  // The signature exchange of STRATA_CHECK=1 (runtime/call_check.h); null when the check is off
  // or the communicator has one rank. The exec mutex guards it.
  CallChecker* callChecker() { return checker_.get(); }

  // Registered windows, and what each rank announced at init (pid, host) for registering them.
  WindowTable& windows() { return windows_; }
  const std::vector<PeerInfo>& peers() const { return peers_; }

 private:
  int rank_;
  int nranks_;
  CommConfig config_;
  std::string label_;
  std::atomic<bool> usable_{false};  // initialised and not failed
  PlanRun run_;
  std::unique_ptr<Bootstrap> bootstrap_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Planner> planner_;
  AbortFlag abort_{false};
  std::atomic<strataResult_t> asyncError_{strataSuccess};
  std::thread initThread_;
  ErrorState errors_;
  std::mutex execMutex_;
  BufferArena arena_;
  std::atomic<int> pending_{0};
  std::atomic<int> active_{0};
  std::atomic<uint32_t> callSeq_{0};  // calls of every rank run so far (CallTag::seq)
  CommStatistics stats_;
  std::shared_ptr<VirtualClocks> clocks_ = std::make_shared<VirtualClocks>();
  std::shared_ptr<const Topology> topology_;
  std::vector<uint8_t> peerLevels_;  // topology level of each peer, for bytes per level
  std::vector<PeerInfo> peers_;
  std::unique_ptr<CallChecker> checker_;
  std::unique_ptr<Rescue> rescue_;        // this rank's side of a later shrink
  std::vector<std::string> rescueBlobs_;  // every rank's, from init
  // Declared last: destroyed (peers' memory unmapped) before the transport and bootstrap.
  WindowTable windows_;
};

}  // namespace strata
