#include "transports/sim/sim_transport.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "base/logging.h"
#include "transports/sim/link_model.h"
#include "transports/sim/sim_channel.h"

namespace strata {
namespace {

using sim::SimChunk;
using sim::SimFifo;

// Everything the ranks of one simulated communicator share.
struct SimFabric {
  SimFabric(const Topology& topo)
      : nranks(topo.nranks),
        model(topo),
        fifos(static_cast<size_t>(nranks) * static_cast<size_t>(nranks)),
        aborted(static_cast<size_t>(nranks)) {
    for (auto& f : fifos) f = std::make_unique<SimFifo>();
    for (auto& a : aborted) a.store(false);
  }
  SimFifo& fifo(int from, int to) {
    return *fifos[static_cast<size_t>(from) * static_cast<size_t>(nranks) +
                  static_cast<size_t>(to)];
  }

  const int nranks;
  const LinkModel model;
  std::vector<std::unique_ptr<SimFifo>> fifos;  // [from * nranks + to]
  std::vector<std::atomic<bool>> aborted;

  // Windows ranks registered for puts: [rank][id].
  struct Window {
    std::byte* base = nullptr;
    size_t bytes = 0;
  };
  std::mutex windowMutex;
  std::vector<std::map<int, Window>> windows{static_cast<size_t>(nranks)};
};

// Fabrics being set up: rank 0 registers one, the others find it by the id it broadcasts.
class FabricDirectory {
 public:
  static FabricDirectory& instance() {
    static FabricDirectory d;
    return d;
  }
  uint64_t add(const std::shared_ptr<SimFabric>& f) {
    std::lock_guard<std::mutex> g(mutex_);
    for (auto it = fabrics_.begin(); it != fabrics_.end();)
      it = it->second.expired() ? fabrics_.erase(it) : std::next(it);
    fabrics_[next_] = f;
    return next_++;
  }
  std::shared_ptr<SimFabric> find(uint64_t id) {
    std::lock_guard<std::mutex> g(mutex_);
    auto it = fabrics_.find(id);
    return it == fabrics_.end() ? nullptr : it->second.lock();
  }

 private:
  std::mutex mutex_;
  std::map<uint64_t, std::weak_ptr<SimFabric>> fabrics_;
  uint64_t next_ = 1;
};

// One rank's link to `peer`. Sends take the stamp queued by postSend for their message;
// receives keep the stamps of the messages they consumed until the phase ends.
class SimEndpoint final : public Endpoint {
 public:
  SimEndpoint(SimFifo& toPeer, SimFifo& fromPeer, RankTimeline& timeline, int peer)
      : toPeer_(toPeer), fromPeer_(fromPeer), timeline_(timeline), peer_(peer) {}

  size_t push(const std::byte* src, size_t bytes, uint64_t msgBytes, uint64_t call) override {
    const size_t n = std::min(bytes, kSimChunkBytes);
    const bool first = outRemaining_ == 0;
    // A message pushed without postSend (the transport used outside the executor) is stamped
    // when its first chunk is offered.
    if (first && outStamps_.empty()) outStamps_.push_back(timeline_.postSend(peer_, msgBytes));
    const MsgStamp stamp = first ? outStamps_.front() : MsgStamp{};
    if (!toPeer_.push(src, n, msgBytes, call, first, stamp)) return 0;
    if (first) {
      outStamps_.pop_front();
      outRemaining_ = msgBytes;
    }
    outRemaining_ -= std::min<uint64_t>(n, outRemaining_);
    return n;
  }

  RecvChunk peek() override {
    static const std::byte kNoPayload{};
    const SimChunk* c = fromPeer_.front();
    if (!c) return {};
    return {c->bytes > 0 ? c->data.get() : &kNoPayload, c->bytes, c->msgBytes, c->signal, c->call};
  }

  bool pushSignal(int channel) override {
    if (outRemaining_ != 0) return false;  // the message before it is not all pushed yet
    if (outStamps_.empty()) outStamps_.push_back(timeline_.postSignal(peer_));
    if (!toPeer_.push(nullptr, 0, 0, 0, true, outStamps_.front(), channel)) return false;
    outStamps_.pop_front();
    return true;
  }

  void pop() override {
    const SimChunk* c = fromPeer_.front();
    if (!c) return;
    if (c->first) inStamps_.push_back(c->stamp);
    fromPeer_.pop();
  }

  void queueSendStamp(const MsgStamp& s) { outStamps_.push_back(s); }

  MsgStamp takeRecvStamp() {
    if (inStamps_.empty()) {
      STRATA_WARN(
          "sim: rank %d ended a phase without a message from rank %d it posted a "
          "receive for; its time is not modelled",
          timeline_.rank(), peer_);
      return {};
    }
    MsgStamp s = inStamps_.front();
    inStamps_.pop_front();
    return s;
  }

 private:
  SimFifo& toPeer_;
  SimFifo& fromPeer_;
  RankTimeline& timeline_;
  const int peer_;
  uint64_t outRemaining_ = 0;  // bytes of the current outgoing message not pushed yet
  std::deque<MsgStamp> outStamps_;
  std::deque<MsgStamp> inStamps_;
};

class SimTransport final : public Transport {
 public:
  SimTransport(std::shared_ptr<SimFabric> fabric, int rank)
      : fabric_(std::move(fabric)), rank_(rank), timeline_(fabric_->model, rank) {
    const int n = fabric_->nranks;
    endpoints_.reserve(static_cast<size_t>(n));
    for (int p = 0; p < n; ++p)
      endpoints_.push_back(std::make_unique<SimEndpoint>(fabric_->fifo(rank, p),
                                                         fabric_->fifo(p, rank), timeline_, p));
  }

  const char* name() const override { return "sim"; }
  Endpoint& endpoint(int peer) override { return *endpoints_[static_cast<size_t>(peer)]; }

  Status checkPeers() override {
    for (int p = 0; p < fabric_->nranks; ++p)
      if (p != rank_ && fabric_->aborted[static_cast<size_t>(p)].load(std::memory_order_relaxed))
        return makeError(strataRemoteError, "rank %d aborted", p);
    return Status::ok();
  }
  void markAborted() override { fabric_->aborted[static_cast<size_t>(rank_)].store(true); }
  size_t chunkBytes() const override { return kSimChunkBytes; }

  bool modelsTime() const override { return true; }
  void phaseBegin() override { timeline_.phaseBegin(); }
  // A zero-byte op moves no message, so it has no stamp to carry or take.
  void postSend(int peer, size_t bytes) override {
    if (bytes == 0) return;
    endpoints_[static_cast<size_t>(peer)]->queueSendStamp(timeline_.postSend(peer, bytes));
  }
  void postPut(int peer, size_t bytes) override { timeline_.postPut(peer, bytes); }
  void postSignal(int peer) override {
    endpoints_[static_cast<size_t>(peer)]->queueSendStamp(timeline_.postSignal(peer));
  }
  void postRecv(int peer, size_t bytes, bool reduces) override {
    if (bytes > 0) timeline_.postRecv(peer, bytes, reduces);
  }
  void postWait(int peer, size_t bytes) override { timeline_.postRecv(peer, bytes, false); }
  void chargeCompute(size_t bytes) override { timeline_.chargeCompute(bytes); }
  void phaseEnd() override {
    timeline_.phaseEnd(
        [this](int peer) { return endpoints_[static_cast<size_t>(peer)]->takeRecvStamp(); });
  }
  int64_t virtualTimePs() const override { return timeline_.clockPs(); }
  void advanceClockTo(int64_t atPs) override { timeline_.advanceTo(atPs); }

  // Ranks are threads of one process: a put is a copy into the peer's registered memory.
  bool supportsPut() const override { return true; }
  Status registerWindow(int id, void* base, size_t bytes) override {
    std::lock_guard<std::mutex> g(fabric_->windowMutex);
    fabric_->windows[static_cast<size_t>(rank_)][id] = {static_cast<std::byte*>(base), bytes};
    return Status::ok();
  }
  Status put(int peer, int window, size_t offset, const std::byte* src, size_t bytes) override {
    SimFabric::Window w;
    {
      std::lock_guard<std::mutex> g(fabric_->windowMutex);
      const auto& ws = fabric_->windows[static_cast<size_t>(peer)];
      auto it = ws.find(window);
      if (it == ws.end())
        return makeError(strataInvalidUsage, "sim: rank %d put to window %d of rank %d, which "
                         "rank %d has not registered", rank_, window, peer, peer);
      w = it->second;
    }
    if (offset > w.bytes || bytes > w.bytes - offset)
      return makeError(strataInvalidUsage, "sim: rank %d put %zu bytes at offset %zu into window "
                       "%d of rank %d, which holds %zu bytes", rank_, bytes, offset, window, peer,
                       w.bytes);
    std::memcpy(w.base + offset, src, bytes);
    return Status::ok();
  }

 private:
  std::shared_ptr<SimFabric> fabric_;
  const int rank_;
  RankTimeline timeline_;
  std::vector<std::unique_ptr<SimEndpoint>> endpoints_;
};

}  // namespace

Result<std::unique_ptr<Transport>> createSimTransport(Bootstrap& bs,
                                                      const std::vector<PeerInfo>& peers,
                                                      const SimOptions& opts) {
  const int rank = bs.rank();
  const int n = bs.size();
  if (!opts.topology)
    return makeError(strataInvalidArgument, "sim transport: no topology was given");
  const Topology& topo = *opts.topology;
  if (topo.nranks != n)
    return makeError(strataInvalidArgument,
                     "sim transport: topology '%s' has %d ranks but the communicator has %d "
                     "(create it with nranks = %d)",
                     topo.name.c_str(), topo.nranks, n, topo.nranks);
  const int pid = static_cast<int>(getpid());
  for (const PeerInfo& p : peers)
    if (p.pid != pid)
      return makeError(strataInvalidArgument,
                       "sim transport: rank %d runs in process %d and rank %d in process %d; the "
                       "sim runs every rank as a thread of one process (strataCommInitAll)",
                       rank, pid, p.rank, p.pid);
  std::shared_ptr<SimFabric> fabric;
  std::string id;
  if (rank == 0) {
    fabric = std::make_shared<SimFabric>(topo);
    id = std::to_string(FabricDirectory::instance().add(fabric));
  }
  STRATA_ASSIGN(id, bs.bcast(id, 0));
  if (rank != 0) {
    fabric = FabricDirectory::instance().find(std::strtoull(id.c_str(), nullptr, 10));
    if (!fabric)
      return makeError(strataInternalError,
                       "sim transport: rank %d cannot find fabric %s of "
                       "rank 0",
                       rank, id.c_str());
  }
  // Rank 0 holds the fabric until every rank has found it.
  STRATA_CHECK(bs.barrier());
  STRATA_INFO(Subsys::kInit, "sim transport: rank %d of %d on topology '%s' (%zu levels)", rank, n,
              topo.name.c_str(), topo.levels.size());
  return std::unique_ptr<Transport>(new SimTransport(std::move(fabric), rank));
}

}  // namespace strata
