#include "transports/tagged_transport.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "base/logging.h"
#include "transports/loopback_endpoint.h"

namespace strata {
namespace {

// Tag layout, kept below bit 60 because some providers reserve the top bits:
//   bits 58..59 kind | bits 36..57 sender rank | bits 0..35 sequence number of the pair
constexpr unsigned kKindShift = 58;
constexpr unsigned kRankShift = 36;
constexpr uint64_t kSeqMask = (uint64_t{1} << kRankShift) - 1;
constexpr uint64_t kRankMask = ((uint64_t{1} << (kKindShift - kRankShift)) - 1) << kRankShift;
static_assert(kMaxNetRanks == 1 << (kKindShift - kRankShift), "ranks must fit the tag");
enum TagKind : uint64_t { kTagData = 1, kTagCredit = 2, kTagAbort = 3 };

uint64_t makeTag(TagKind kind, int rank, uint64_t seq) {
  return (uint64_t{kind} << kKindShift) | (static_cast<uint64_t>(rank) << kRankShift) |
         (seq & kSeqMask);
}

// Every data message starts with this header, padded to a cache line so payloads stay aligned.
constexpr size_t kHeaderBytes = kNetChunkHeaderBytes;
constexpr uint64_t kChunkMagic = 0x314354454e525453ull;  // "STRNETC1"
struct ChunkHeader {
  uint64_t magic;
  uint64_t seq;
  uint64_t bytes;     // payload bytes of this chunk
  uint64_t msgBytes;  // total bytes of the message the chunk belongs to
  int64_t signal;     // -1: data; c >= 0: a signal on channel c, no payload
  uint64_t call;      // identity of the call the message belongs to
};
static_assert(sizeof(ChunkHeader) <= kHeaderBytes);

// Per-peer control words, each its own 8-byte message buffer.
enum ControlWord : size_t { kCreditIn = 0, kCreditOut = 1, kAbortOut = 2, kControlWords = 8 };

constexpr int64_t kProbeIntervalNs = 1'000'000'000;  // liveness probe while a rank waits
// A peer whose messages the network keeps refusing (libfabric reconnecting to a dead process)
// is declared gone after this long.
constexpr int64_t kUnreachableNs = 2'000'000'000;
constexpr long kCleanFlushMs = 10000;  // sends delivered before a clean close
constexpr long kForcedCloseMs = 1000;

size_t roundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The endpoint of a peer this transport does not serve (another transport carries it).
class UnconnectedEndpoint final : public Endpoint {
 public:
  size_t push(const std::byte*, size_t, uint64_t, uint64_t) override { return 0; }
  RecvChunk peek() override { return {}; }
  void pop() override {}
  bool pushSignal(int) override { return false; }
};

struct AlignedFree {
  void operator()(std::byte* p) const { std::free(p); }
};

class TaggedTransport;

class NetEndpoint final : public Endpoint {
 public:
  NetEndpoint(TaggedTransport& t, int peer) : t_(t), peer_(peer) {}
  size_t push(const std::byte* src, size_t bytes, uint64_t msgBytes, uint64_t call) override;
  RecvChunk peek() override;
  void pop() override;
  bool pushSignal(int channel) override;

 private:
  TaggedTransport& t_;
  int peer_;
};

class TaggedTransport final : public Transport, private FabricSink {
 public:
  TaggedTransport(int rank, const std::vector<PeerInfo>& peers,
                  std::unique_ptr<TaggedFabric> fabric, const NetOptions& opts)
      : rank_(rank),
        nranks_(static_cast<int>(peers.size())),
        name_(fabric->name()),
        chunk_(opts.chunkBytes),
        slots_(static_cast<uint64_t>(opts.slots)),
        creditBatch_(std::max<uint64_t>(1, slots_ / 2)),
        stride_(kHeaderBytes + roundUp(opts.chunkBytes, 64)),
        fabric_(std::move(fabric)),
        links_(peers.size()) {
    for (const PeerInfo& p : peers) hosts_.push_back(p.hostId);
    fabric_->setSink(this);
  }

  ~TaggedTransport() override { shutdown(); }

  // Allocates the buffers, connects to every peer in connect and posts the receives.
  Status start(const std::vector<std::string>& addresses, const std::vector<char>& connect) {
    size_t remote = 0;
    for (int r = 0; r < nranks_; ++r)
      if (connect[static_cast<size_t>(r)] && r != rank_) ++remote;
    const size_t perPeer = 2 * slots_ * stride_ + kControlWords * sizeof(uint64_t);
    const size_t total = roundUp(remote * perPeer + kControlWords * sizeof(uint64_t), 4096);
    arena_.reset(static_cast<std::byte*>(std::aligned_alloc(4096, total)));
    if (!arena_)
      return makeError(strataSystemError, "%s transport: cannot allocate %zu bytes of buffers",
                       name_.c_str(), total);
    std::memset(arena_.get(), 0, total);
    STRATA_CHECK(fabric_->registerMemory(arena_.get(), total));
    abortIn_ = reinterpret_cast<uint64_t*>(arena_.get());
    std::byte* next = arena_.get() + kControlWords * sizeof(uint64_t);

    std::lock_guard<std::mutex> g(mutex_);
    for (int r = 0; r < nranks_; ++r) {
      Link& l = links_[static_cast<size_t>(r)];
      if (!connect[static_cast<size_t>(r)]) {
        l.endpoint = std::make_unique<UnconnectedEndpoint>();
        continue;
      }
      if (r == rank_) {
        l.endpoint = std::make_unique<LoopbackEndpoint>(chunk_, static_cast<int>(slots_));
        continue;
      }
      l.connected = true;
      l.sendBase = next;
      l.recvBase = next + slots_ * stride_;
      l.control = reinterpret_cast<uint64_t*>(next + 2 * slots_ * stride_);
      next += perPeer;
      l.sendOps.resize(slots_);
      l.recvOps.resize(slots_);
      l.ready.assign(slots_, 0);
      l.creditLimit = slots_;
      l.endpoint = std::make_unique<NetEndpoint>(*this, r);
      STRATA_CHECK(fabric_->connect(r, addresses[static_cast<size_t>(r)]));
    }
    for (int r = 0; r < nranks_; ++r) {
      Link& l = links_[static_cast<size_t>(r)];
      if (!l.connected) continue;
      for (uint64_t s = 0; s < slots_; ++s) postData(l, r, s);
      postCreditRecv(l, r);
      if (!l.failure.empty())
        return makeError(strataSystemError, "%s transport: posting receives for rank %d: %s",
                         name_.c_str(), r, l.failure.c_str());
    }
    postAbortRecv();
    if (failedPeer_ >= 0) return lossError();
    progressThread_ = std::thread([this] { backgroundProgress(); });
    return Status::ok();
  }

  const char* name() const override { return name_.c_str(); }
  Endpoint& endpoint(int peer) override { return *links_[static_cast<size_t>(peer)].endpoint; }
  size_t chunkBytes() const override { return chunk_; }
  LinkCost interHostCost() const override { return fabric_->cost(); }

  Status checkPeers() override {
    std::lock_guard<std::mutex> g(mutex_);
    touch();
    progressNet();
    int64_t now = nowNs();
    if (now >= nextProbeNs_) {
      nextProbeNs_ = now + kProbeIntervalNs;
      for (int r = 0; r < nranks_; ++r) {
        Link& l = links_[static_cast<size_t>(r)];
        if (l.connected && l.failure.empty()) sendCredit(l, r, /*probe=*/true);
      }
    }
    if (failedPeer_ >= 0) return lossError();
    return Status::ok();
  }

  void noteCulprit(int rank) override {
    std::lock_guard<std::mutex> g(mutex_);
    if (culprit_ < 0) culprit_ = rank;
  }

  int culprit() const override {
    std::lock_guard<std::mutex> g(mutex_);
    return culprit_;
  }

  void markAborted() override {
    std::lock_guard<std::mutex> g(mutex_);
    if (aborted_ || closing_) return;
    aborted_ = true;
    for (int r = 0; r < nranks_; ++r) {
      Link& l = links_[static_cast<size_t>(r)];
      if (!l.connected || !l.failure.empty()) continue;
      l.abortDue = true;
      sendAbort(l, r);
    }
    for (int i = 0; i < 16; ++i) progressNet();
  }

  // Sends the bytes of a message as chunks, or (signal >= 0, no bytes) one signal chunk.
  size_t push(int peer, const std::byte* src, size_t bytes, uint64_t msgBytes, uint64_t call,
              int signal = -1) {
    std::lock_guard<std::mutex> g(mutex_);
    touch();
    Link& l = links_[static_cast<size_t>(peer)];
    size_t done = 0;
    bool progressed = false;
    bool signalled = false;
    while ((signal >= 0 ? !signalled : done < bytes) && l.failure.empty() && !aborted_) {
      const uint32_t slot = static_cast<uint32_t>(l.sendSeq % slots_);
      FabricOp& op = l.sendOps[slot];
      if (op.pending || l.sendSeq >= l.creditLimit) {
        if (progressed) break;
        progressNet();
        progressed = true;
        continue;
      }
      const size_t n = std::min(chunk_, bytes - done);
      std::byte* buf = l.sendBase + slot * stride_;
      ChunkHeader h{kChunkMagic, l.sendSeq, n, msgBytes, signal, call};
      std::memcpy(buf, &h, sizeof(h));
      if (n > 0) std::memcpy(buf + kHeaderBytes, src + done, n);
      prepare(op, FabricOp::Kind::kDataSend, peer, slot);
      auto posted =
          fabric_->send(peer, makeTag(kTagData, rank_, l.sendSeq), buf, kHeaderBytes + n, &op);
      if (!posted.isOk()) {
        markFailed(peer, posted.status().message());
        break;
      }
      if (posted.value().busy) {
        refused(l, peer);
        break;
      }
      l.refusedSinceNs = 0;
      op.pending = !posted.value().done;
      ++l.sendSeq;
      done += n;
      signalled = true;
    }
    return signal >= 0 ? (signalled ? 1 : 0) : done;
  }

  RecvChunk peek(int peer) {
    std::lock_guard<std::mutex> g(mutex_);
    touch();
    Link& l = links_[static_cast<size_t>(peer)];
    const size_t slot = static_cast<size_t>(l.recvSeq % slots_);
    if (!l.ready[slot]) {
      progressNet();
      if (!l.ready[slot]) return {};
    }
    const std::byte* buf = l.recvBase + slot * stride_;
    ChunkHeader h;
    std::memcpy(&h, buf, sizeof(h));
    // Sizes from the network are clamped to the slot, so a corrupt or hostile header cannot
    // send a reader past it; a signal channel out of range reads as a data chunk's -1.
    const size_t bytes = static_cast<size_t>(std::min<uint64_t>(h.bytes, chunk_));
    const int signal = h.signal >= 0 && h.signal < 65536 ? static_cast<int>(h.signal) : -1;
    return RecvChunk{buf + kHeaderBytes, bytes, h.msgBytes, signal, h.call};
  }

  void pop(int peer) {
    std::lock_guard<std::mutex> g(mutex_);
    touch();
    Link& l = links_[static_cast<size_t>(peer)];
    const size_t slot = static_cast<size_t>(l.recvSeq % slots_);
    if (!l.ready[slot]) return;
    l.ready[slot] = 0;
    const uint64_t reuse = l.recvSeq + slots_;
    ++l.recvSeq;
    if (!l.failure.empty() || closing_) return;
    postData(l, peer, reuse);  // before the credit that promises it
    if (l.recvSeq - l.creditSent >= creditBatch_) sendCredit(l, peer);
  }

 private:
  struct Link {
    bool connected = false;
    std::unique_ptr<Endpoint> endpoint;
    std::byte* sendBase = nullptr;
    std::byte* recvBase = nullptr;
    uint64_t* control = nullptr;
    std::vector<FabricOp> sendOps, recvOps;
    std::vector<uint8_t> ready;  // receive slot holds an arrived chunk
    uint64_t sendSeq = 0;        // next chunk to send
    uint64_t creditLimit = 0;    // chunks the peer has room for: its popped count + slots
    uint64_t recvSeq = 0;        // next chunk to hand out
    uint64_t creditSent = 0;     // popped count last reported to the peer
    FabricOp creditSend, creditRecv, abortSend;
    std::vector<uint64_t> deferredRecvs;  // receives the network refused for now
    bool creditRecvDeferred = false;
    bool abortDue = false;       // an abort notice still has to go out
    int64_t refusedSinceNs = 0;  // when the network started refusing our messages to the peer
    std::string failure;         // why the peer is gone; empty while it is fine
    bool abortNotice = false;    // the failure is the peer's abort notice
    int abortCause = -1;         // the rank that notice blamed, if any
  };

  static void prepare(FabricOp& op, FabricOp::Kind kind, int peer, uint32_t slot) {
    op.kind = kind;
    op.peer = peer;
    op.slot = slot;
    op.cancelRequested = false;
  }

  void cancel(FabricOp& op) {
    op.cancelRequested = true;
    fabric_->cancel(&op);
  }

  // Runs the network once, then retries whatever it refused earlier.
  bool progressNet() {
    bool any = fabric_->progress();
    if (deferred_) retryDeferred();
    return any;
  }

  void retryDeferred() {
    deferred_ = false;
    for (int r = 0; r < nranks_; ++r) {
      Link& l = links_[static_cast<size_t>(r)];
      if (!l.connected || !l.failure.empty()) continue;
      std::vector<uint64_t> seqs;
      seqs.swap(l.deferredRecvs);
      for (uint64_t seq : seqs) postData(l, r, seq);
      if (l.creditRecvDeferred) {
        l.creditRecvDeferred = false;
        postCreditRecv(l, r);
      }
      if (l.recvSeq - l.creditSent >= creditBatch_) sendCredit(l, r);
      if (l.abortDue) sendAbort(l, r);
    }
    if (abortRecvDeferred_) {
      abortRecvDeferred_ = false;
      postAbortRecv();
    }
  }

  // The network refused a message to peer for now; for long enough, the peer is gone.
  void refused(Link& l, int peer) {
    deferred_ = true;
    const int64_t now = nowNs();
    if (l.refusedSinceNs == 0) {
      l.refusedSinceNs = now;
    } else if (now - l.refusedSinceNs > kUnreachableNs) {
      markFailed(peer, format("is unreachable: the network refused messages to it for %lld ms",
                              static_cast<long long>((now - l.refusedSinceNs) / 1'000'000)));
    }
  }

  void touch() { lastUseNs_.store(nowNs(), std::memory_order_relaxed); }

  Status peerError(int peer) const {
    const Link& l = links_[static_cast<size_t>(peer)];
    return makeError(strataRemoteError, "%s transport: rank %d (host %s) %s", name_.c_str(), peer,
                     hosts_[static_cast<size_t>(peer)].c_str(), l.failure.c_str());
  }

  // The lost peer to name: one that failed rather than only sent an abort notice (an aborting
  // peer may have given up because of it), else the rank the first abort notice blamed.
  Status lossError() {
    for (int r = 0; r < nranks_; ++r) {
      const Link& l = links_[static_cast<size_t>(r)];
      if (!l.failure.empty() && !l.abortNotice) {
        culprit_ = r;
        return peerError(r);
      }
    }
    const Link& l = links_[static_cast<size_t>(failedPeer_)];
    if (l.abortCause < 0) {
      culprit_ = failedPeer_;
      return peerError(failedPeer_);
    }
    culprit_ = l.abortCause;
    return makeError(strataRemoteError,
                     "%s transport: lost rank %d (host %s): rank %d (host %s) aborted after "
                     "failing on it",
                     name_.c_str(), l.abortCause, hosts_[static_cast<size_t>(l.abortCause)].c_str(),
                     failedPeer_, hosts_[static_cast<size_t>(failedPeer_)].c_str());
  }

  void postData(Link& l, int peer, uint64_t seq) {
    const uint32_t slot = static_cast<uint32_t>(seq % slots_);
    FabricOp& op = l.recvOps[slot];
    prepare(op, FabricOp::Kind::kDataRecv, peer, slot);
    auto posted =
        fabric_->recv(makeTag(kTagData, peer, seq), 0, l.recvBase + slot * stride_, stride_, &op);
    if (!posted.isOk()) return markFailed(peer, posted.status().message());
    if (posted.value().busy) {
      l.deferredRecvs.push_back(seq);
      deferred_ = true;
    } else if (posted.value().done)
      dataArrived(l, peer, slot, posted.value().bytes);
    else
      op.pending = true;
  }

  void dataArrived(Link& l, int peer, uint32_t slot, size_t bytes) {
    ChunkHeader h;
    std::memcpy(&h, l.recvBase + slot * stride_, sizeof(h));
    if (bytes < kHeaderBytes || h.magic != kChunkMagic || h.bytes != bytes - kHeaderBytes ||
        h.bytes > chunk_ || h.seq % slots_ != slot)
      return markFailed(peer, format("sent a malformed chunk (%zu bytes)", bytes));
    l.ready[slot] = 1;
  }

  void postCreditRecv(Link& l, int peer) {
    prepare(l.creditRecv, FabricOp::Kind::kCreditRecv, peer, 0);
    auto posted = fabric_->recv(makeTag(kTagCredit, peer, 0), 0, &l.control[kCreditIn],
                                sizeof(uint64_t), &l.creditRecv);
    if (!posted.isOk()) return markFailed(peer, posted.status().message());
    if (posted.value().busy) {
      l.creditRecvDeferred = true;
      deferred_ = true;
    } else if (posted.value().done)
      creditArrived(l, peer);
    else
      l.creditRecv.pending = true;
  }

  void creditArrived(Link& l, int peer) {
    l.creditLimit = std::max(l.creditLimit, l.control[kCreditIn] + slots_);
    if (l.failure.empty() && !closing_) postCreditRecv(l, peer);
  }

  // Reports our popped count to peer. A probe reports it even when nothing new was popped:
  // the peer only takes the maximum, and a dead peer shows up as a failed send.
  void sendCredit(Link& l, int peer, bool probe = false) {
    if (l.creditSend.pending || closing_) return;  // resent on completion when still due
    if (!probe && l.recvSeq == l.creditSent) return;
    l.control[kCreditOut] = l.recvSeq;
    prepare(l.creditSend, FabricOp::Kind::kCreditSend, peer, 0);
    auto posted = fabric_->send(peer, makeTag(kTagCredit, rank_, 0), &l.control[kCreditOut],
                                sizeof(uint64_t), &l.creditSend);
    if (!posted.isOk()) return markFailed(peer, posted.status().message());
    if (posted.value().busy) return refused(l, peer);
    l.refusedSinceNs = 0;
    l.creditSent = l.recvSeq;
    l.creditSend.pending = !posted.value().done;
  }

  // Best effort: a peer that cannot be told sees the connection close instead.
  void sendAbort(Link& l, int peer) {
    if (l.abortSend.pending) return;
    // Low half: this rank; high half: the rank it blames plus one (0: none).
    l.control[kAbortOut] = static_cast<uint64_t>(rank_) |
                           (static_cast<uint64_t>(static_cast<uint32_t>(culprit_ + 1)) << 32);
    prepare(l.abortSend, FabricOp::Kind::kAbortSend, peer, 0);
    auto posted = fabric_->send(peer, makeTag(kTagAbort, rank_, 0), &l.control[kAbortOut],
                                sizeof(uint64_t), &l.abortSend);
    if (posted.isOk() && posted.value().busy) {
      deferred_ = true;
      return;
    }
    l.abortDue = false;
    if (posted.isOk()) l.abortSend.pending = !posted.value().done;
  }

  void postAbortRecv() {
    prepare(abortRecv_, FabricOp::Kind::kAbortRecv, -1, 0);
    // Any sender: the notice carries its rank.
    auto posted = fabric_->recv(makeTag(kTagAbort, 0, 0), kRankMask | kSeqMask, abortIn_,
                                sizeof(uint64_t), &abortRecv_);
    if (!posted.isOk()) {
      STRATA_WARN("%s transport: cannot post the abort notice receive: %s", name_.c_str(),
                  posted.status().message().c_str());
      return;
    }
    if (posted.value().busy) {
      abortRecvDeferred_ = true;
      deferred_ = true;
    } else if (posted.value().done)
      abortArrived();
    else
      abortRecv_.pending = true;
  }

  void abortArrived() {
    const uint64_t who = *abortIn_ & 0xffffffffu;
    const int64_t cause = static_cast<int64_t>(*abortIn_ >> 32) - 1;
    if (who < static_cast<uint64_t>(nranks_) && links_[who].connected) {
      Link& l = links_[who];
      if (l.failure.empty()) {
        l.abortNotice = true;
        if (cause >= 0 && cause < nranks_ && cause != rank_ && cause != static_cast<int64_t>(who))
          l.abortCause = static_cast<int>(cause);
      }
      markFailed(static_cast<int>(who), l.abortCause >= 0
                                            ? format("aborted after failing on rank %d", l.abortCause)
                                            : std::string("aborted"));
    }
    if (!closing_) postAbortRecv();
  }

  void markFailed(int peer, const std::string& why) {
    Link& l = links_[static_cast<size_t>(peer)];
    if (!l.failure.empty() || closing_) return;
    l.failure = why.empty() ? "failed" : why;
    if (failedPeer_ < 0) failedPeer_ = peer;
    STRATA_INFO(Subsys::kNet, "%s transport: rank %d lost rank %d: %s", name_.c_str(), rank_, peer,
                l.failure.c_str());
    l.deferredRecvs.clear();
    l.creditRecvDeferred = false;
    for (FabricOp& op : l.recvOps)
      if (op.pending) cancel(op);
    if (l.creditRecv.pending) cancel(l.creditRecv);
    fabric_->closePeer(peer);
  }

  void onComplete(FabricOp* op, FabricEvent event, size_t bytes, const std::string& why) override {
    op->pending = false;
    if (op->kind == FabricOp::Kind::kAbortRecv) {
      if (event == FabricEvent::kDone) abortArrived();
      return;
    }
    const int peer = op->peer;
    Link& l = links_[static_cast<size_t>(peer)];
    if (event == FabricEvent::kCancelled && op->cancelRequested) return;
    if (event != FabricEvent::kDone) {
      if (op->kind != FabricOp::Kind::kAbortSend) markFailed(peer, why);
      return;
    }
    switch (op->kind) {
      case FabricOp::Kind::kDataRecv:
        dataArrived(l, peer, op->slot, bytes);
        break;
      case FabricOp::Kind::kCreditRecv:
        creditArrived(l, peer);
        break;
      case FabricOp::Kind::kCreditSend:
        if (l.failure.empty() && l.recvSeq - l.creditSent >= creditBatch_) sendCredit(l, peer);
        break;
      default:
        break;
    }
  }

  void onPeerFailed(int peer, const std::string& why) override {
    if (peer >= 0 && peer < nranks_ && links_[static_cast<size_t>(peer)].connected)
      markFailed(peer, why);
  }

  // Progresses the network while the communicator is idle, so peers are never stuck behind a
  // rank that sits in user code with chunks still on their way.
  void backgroundProgress() {
    using std::chrono::milliseconds;
    constexpr int64_t kBusyNs = 1'000'000;
    constexpr int64_t kQuietAfterNs = 1'000'000'000;
    int64_t lastEventNs = nowNs();
    std::unique_lock<std::mutex> lk(threadMutex_);
    while (!stop_) {
      const bool quiet = nowNs() - lastEventNs > kQuietAfterNs;
      cv_.wait_for(lk, milliseconds(quiet ? 10 : 1));
      if (stop_) break;
      if (nowNs() - lastUseNs_.load(std::memory_order_relaxed) < kBusyNs) continue;
      std::unique_lock<std::mutex> g(mutex_, std::try_to_lock);
      if (!g.owns_lock()) continue;
      for (int i = 0; i < 64 && progressNet(); ++i) lastEventNs = nowNs();
    }
  }

  bool abortsOutstanding() const {
    for (const Link& l : links_)
      if (l.connected && l.failure.empty() && (l.abortDue || l.abortSend.pending)) return true;
    return false;
  }

  bool anyPending(bool sends) const {
    for (const Link& l : links_) {
      if (!l.connected) continue;
      const auto& ops = sends ? l.sendOps : l.recvOps;
      for (const FabricOp& op : ops)
        if (op.pending) return true;
      if (sends && (l.creditSend.pending || l.abortSend.pending)) return true;
      if (!sends && l.creditRecv.pending) return true;
    }
    return !sends && abortRecv_.pending;
  }

  void progressUntilDone(bool sends, const Deadline& deadline) {
    while (anyPending(sends) && !deadline.expired()) {
      if (!fabric_->progress()) std::this_thread::yield();
    }
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lk(threadMutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (progressThread_.joinable()) progressThread_.join();
    if (!fabric_) return;
    std::lock_guard<std::mutex> g(mutex_);
    const bool clean = !aborted_ && failedPeer_ < 0;
    if (clean) progressUntilDone(/*sends=*/true, Deadline::afterMs(kCleanFlushMs));
    if (aborted_) {  // give the abort notices a moment to leave
      Deadline d = Deadline::afterMs(kForcedCloseMs);
      while (abortsOutstanding() && !d.expired())
        if (!progressNet()) std::this_thread::yield();
    }
    closing_ = true;
    for (Link& l : links_) {
      if (!l.connected) continue;
      for (FabricOp& op : l.recvOps)
        if (op.pending) cancel(op);
      if (l.creditRecv.pending) cancel(l.creditRecv);
    }
    if (abortRecv_.pending) cancel(abortRecv_);
    progressUntilDone(/*sends=*/false, Deadline::afterMs(kForcedCloseMs));
    fabric_->closeAll(!clean, Deadline::afterMs(clean ? kCleanFlushMs : kForcedCloseMs));
    fabric_.reset();  // before the buffers it may still point into
  }

  const int rank_;
  const int nranks_;
  const std::string name_;
  const size_t chunk_;
  const uint64_t slots_;
  const uint64_t creditBatch_;
  const size_t stride_;
  std::vector<std::string> hosts_;
  std::unique_ptr<std::byte, AlignedFree> arena_;  // outlives fabric_, which points into it
  std::unique_ptr<TaggedFabric> fabric_;

  // Everything below is guarded by mutex_: one thread at a time drives the network.
  mutable std::mutex mutex_;
  std::vector<Link> links_;
  uint64_t* abortIn_ = nullptr;
  FabricOp abortRecv_;
  int failedPeer_ = -1;
  int culprit_ = -1;  // the rank this rank's failure is blamed on, sent with an abort notice
  bool deferred_ = false;  // some post was refused and waits in retryDeferred()
  bool abortRecvDeferred_ = false;
  bool aborted_ = false;
  bool closing_ = false;
  int64_t nextProbeNs_ = 0;

  std::atomic<int64_t> lastUseNs_{0};
  std::mutex threadMutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread progressThread_;
};

size_t NetEndpoint::push(const std::byte* src, size_t bytes, uint64_t msgBytes, uint64_t call) {
  return t_.push(peer_, src, bytes, msgBytes, call);
}
RecvChunk NetEndpoint::peek() { return t_.peek(peer_); }
void NetEndpoint::pop() { t_.pop(peer_); }
bool NetEndpoint::pushSignal(int channel) {
  return t_.push(peer_, nullptr, 0, 0, 0, channel) == 1;
}

}  // namespace

Result<std::unique_ptr<Transport>> startTaggedTransport(int rank,
                                                        const std::vector<PeerInfo>& peers,
                                                        std::unique_ptr<TaggedFabric> fabric,
                                                        const NetOptions& opts,
                                                        const std::vector<std::string>& addresses) {
  auto transport = std::make_unique<TaggedTransport>(rank, peers, std::move(fabric), opts);
  STRATA_CHECK(transport->start(addresses, opts.connect));
  return std::unique_ptr<Transport>(std::move(transport));
}

}  // namespace strata
