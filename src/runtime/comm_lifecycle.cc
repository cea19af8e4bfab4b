// A communicator's life cycle: init (blocking or on a thread), readiness, finalize, abort and
// split.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/backoff.h"
#include "base/host_id.h"
#include "base/logging.h"
#include "base/status_signal.h"
#include "bootstrap/rescue.h"
#include "runtime/call_check.h"
#include "runtime/comm.h"
#include "runtime/status_reporter.h"
#include "scheduler/tune_file.h"
#include "topology/topology_json.h"
#include "transports/registry.h"

namespace strata {

Status Comm::initialize(std::unique_ptr<Bootstrap> bootstrap) {
  RankScope scope(rank_);
  logVersionOnce();
  installStatusSignal();
  watchForStatus(this);
  bootstrap_ = std::move(bootstrap);
  PeerInfo me;
  me.rank = rank_;
  me.pid = static_cast<int>(getpid());
  me.hostId = localHostId();
  STRATA_ASSIGN(std::vector<std::string> blobs, bootstrap_->allgather(me.serialize()));
  std::vector<PeerInfo> peers;
  peers.reserve(blobs.size());
  for (size_t i = 0; i < blobs.size(); ++i) {
    STRATA_ASSIGN(PeerInfo p, PeerInfo::parse(blobs[i]));
    if (p.rank != static_cast<int>(i)) {
      return makeError(strataInternalError, "peer info %zu claims rank %d", i, p.rank);
    }
    peers.push_back(std::move(p));
  }
  peers_ = peers;
  // While every rank is here: what lets the survivors regroup later without the lost ones.
  STRATA_ASSIGN(rescue_, bootstrap_->openRescue());
  if (rescue_) {
    STRATA_ASSIGN(rescueBlobs_, bootstrap_->allgather(rescue_->blob()));
  }
  const bool derivedTopology = !topology_ && config_.topoFile.empty();
  if (!topology_) {
    std::vector<std::string> hostIds;
    for (const PeerInfo& p : peers) hostIds.push_back(p.hostId);
    STRATA_ASSIGN(Topology t, communicatorTopology(config_.topoFile, hostIds));
    topology_ = std::make_shared<const Topology>(std::move(t));
  }
  if (topology_->nranks != nranks_)
    return makeError(strataInvalidArgument, "topology '%s' has %d ranks but %s has %d",
                     topology_->name.c_str(), topology_->nranks, label().c_str(), nranks_);
  TransportOptions topts;
  topts.name = config_.transport;
  topts.topoFile = config_.topoFile;
  topts.topology = topology_;
  topts.timeoutMs = config_.timeoutMs;
  topts.abort = &abort_;
  STRATA_ASSIGN(transport_, connectTransport(*bootstrap_, peers, topts));
  if (derivedTopology) {
    topology_ = std::make_shared<const Topology>(withInterHostCost(
        *topology_, transport_->interHostCost().alpha, transport_->interHostCost().beta));
  }
  peerLevels_ = topology_->levelsFrom(rank_);
  stats_.setLevels(static_cast<int>(topology_->levels.size()));
  if (rank_ == 0) dumpTopologyToEnvFile(*topology_);
  STRATA_ASSIGN(TuneTable tune, TuneTable::parse(config_.algo, "STRATA_ALGO"));
  CommShape shape;
  shape.rank = rank_;
  shape.nranks = nranks_;
  shape.chunkBytes = transport_->chunkBytes();
  shape.forwarding = !transport_->modelsTime();
  shape.windows = std::string(transport_->name()) == "shm";
  shape.put = transport_->supportsPut();
  shape.flagBytes = transport_->flagBytes();
  STRATA_ASSIGN(TuneFileUse tuneFile, tuneFileFor(config_.tuneFile, *topology_));
  if (!tuneFile.refusal.empty()) warnTuneFileRefused(tuneFile.refusal);
  SelectionContext ctx = makeSelectionContext(shape, topology_, transport_->modelsTime());
  applyFittedLevels(ctx, tuneFile.levels);
  planner_ = std::make_unique<Planner>(std::move(ctx), std::move(tune), config_.reduceInFloat32,
                                       std::move(tuneFile.table));
  if (config_.checkCalls && nranks_ > 1) checker_ = std::make_unique<CallChecker>(rank_, nranks_);
  usable_.store(true, std::memory_order_release);
  STRATA_INFO(Subsys::kInit, "%s ready: transport %s, timeout %ld ms", label().c_str(),
              transport_->name(), config_.timeoutMs);
  return Status::ok();
}

Status Comm::initializeWith(const BootstrapConnector& connect) {
  Result<std::unique_ptr<Bootstrap>> bs = connect();
  if (!bs.isOk()) return bs.status();
  return initialize(std::move(bs).value());
}

void Comm::initializeAsync(BootstrapConnector connect) {
  asyncError_ = strataInProgress;
  initThread_ = std::thread([this, connect = std::move(connect)] {
    Status s = initializeWith(connect);
    errors_.fail(s);
    asyncError_ = s.code();
  });
}

Status Comm::ready() {
  if (usable_.load(std::memory_order_acquire)) return Status::ok();
  if (asyncError_.load() == strataInProgress && initThread_.joinable()) initThread_.join();
  const Status failure = errors_.failure();
  if (!failure.isOk()) {
    return makeError(strataInvalidUsage,
                     "%s is unusable after an earlier error (%s); call "
                     "strataCommAbort",
                     label().c_str(), failure.message().c_str());
  }
  if (!transport_) return makeError(strataInvalidUsage, "%s is not initialised", label().c_str());
  return Status::ok();
}

void Comm::drain() {
  Backoff backoff;
  while (active_.load() > 0 || pending_.load() > 0) backoff.idle();
}

Status Comm::finalize() {
  STRATA_CHECK(ready());
  // Queued work first: it completes or fails within its own deadline.
  Backoff backoff;
  while (pending_.load() > 0) backoff.idle();
  Status s = bootstrap_->barrier();
  if (!s.isOk()) return s.context(label() + ": finalize");
  return Status::ok();
}

void Comm::abort() {
  abort_.store(true);
  if (transport_) transport_->markAborted();
  STRATA_INFO(Subsys::kInit, "%s aborted", label().c_str());
  if (initThread_.joinable()) initThread_.join();
  drain();
}

Result<std::unique_ptr<Comm>> Comm::split(int color, int key, const strataConfig_t* config) {
  STRATA_CHECK(ready());
  STRATA_ASSIGN(CommConfig cfg, resolveConfig(config, &config_));
  const std::string mine = format("%d %d", color, key);
  STRATA_ASSIGN(std::vector<std::string> all, bootstrap_->allgather(mine));
  struct Member {
    int key, rank;
  };
  std::vector<Member> members;
  for (int r = 0; r < nranks_; ++r) {
    int c = 0, k = 0;
    if (std::sscanf(all[static_cast<size_t>(r)].c_str(), "%d %d", &c, &k) != 2)
      return makeError(strataInternalError, "split: malformed color from rank %d", r);
    if (color != STRATA_SPLIT_NOCOLOR && c == color) members.push_back({k, r});
  }
  std::stable_sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
    return a.key != b.key ? a.key < b.key : a.rank < b.rank;
  });
  // The first member of each color makes the child rendezvous; everyone learns every id.
  const bool leader = !members.empty() && members.front().rank == rank_;
  std::string childId;
  if (leader) {
    STRATA_ASSIGN(childId, bootstrap_->newChildId());
  }
  STRATA_ASSIGN(std::vector<std::string> ids, bootstrap_->allgather(childId));
  if (color == STRATA_SPLIT_NOCOLOR) return std::unique_ptr<Comm>();
  int newRank = 0;
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i].rank == rank_) newRank = static_cast<int>(i);
  const int n = static_cast<int>(members.size());
  const std::string& id = ids[static_cast<size_t>(members.front().rank)];
  auto child = std::make_unique<Comm>(newRank, n, cfg);
  if (!cfg.topoFile.empty() && cfg.topoFile == config_.topoFile && topology_) {
    std::vector<int> parentRanks;
    for (const Member& m : members) parentRanks.push_back(m.rank);
    child->inheritTopology(std::make_shared<const Topology>(topology_->subset(parentRanks)));
  }
  STRATA_ASSIGN(std::unique_ptr<Bootstrap> bs, bootstrap_->joinChild(id, newRank, n));
  bs->setAbortFlag(&child->abortFlag());
  STRATA_CHECK(child->initialize(std::move(bs)));
  return child;
}

Result<std::unique_ptr<Comm>> Comm::shrink(const std::vector<int>& excluded,
                                           const strataConfig_t* config, bool abortFirst) {
  if (abortFirst) {
    abort();
    fail(makeError(strataRemoteError, "%s was aborted by strataCommShrink (STRATA_SHRINK_ABORT)",
                   label().c_str()));
  } else {
    STRATA_CHECK(ready());
  }
  if (asyncError_.load() == strataInProgress)
    return makeError(strataInvalidUsage, "%s: shrink while the communicator is still initialising",
                     label().c_str());
  if (!rescue_ || rescueBlobs_.size() != static_cast<size_t>(nranks_))
    return makeError(strataInvalidUsage,
                     "%s: this communicator's bootstrap cannot regroup its survivors",
                     label().c_str());
  STRATA_ASSIGN(CommConfig cfg, resolveConfig(config, &config_));
  std::vector<int> survivors;
  for (int r = 0; r < nranks_; ++r)
    if (std::find(excluded.begin(), excluded.end(), r) == excluded.end()) survivors.push_back(r);
  const int n = static_cast<int>(survivors.size());
  const int newRank =
      static_cast<int>(std::find(survivors.begin(), survivors.end(), rank_) - survivors.begin());
  auto child = std::make_unique<Comm>(newRank, n, cfg);
  if (!cfg.topoFile.empty() && cfg.topoFile == config_.topoFile && topology_)
    child->inheritTopology(std::make_shared<const Topology>(topology_->subset(survivors)));
  BootstrapOptions opts;
  opts.timeoutMs = cfg.timeoutMs;
  opts.abort = &child->abortFlag();
  STRATA_INFO(Subsys::kInit, "%s: shrinking to old ranks %s as rank %d of %d", label().c_str(),
              rankListString(survivors).c_str(), newRank, n);
  auto bs = rescue_->regroup(rescueBlobs_, survivors, rank_, opts);
  if (!bs.isOk()) return Status(bs.status()).context(label() + ": shrink");
  STRATA_CHECK(child->initialize(std::move(bs).value()));
  return child;
}

}  // namespace strata
