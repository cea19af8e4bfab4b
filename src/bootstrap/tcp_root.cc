#include "bootstrap/tcp_root.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/cloexec_socket.h"
#include "bootstrap/launcher_notice.h"
#include "bootstrap/tcp_wire.h"
#include "base/limits.h"
#include "base/logging.h"

namespace strata {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

constexpr long kExitGraceMs = 2000;
// Connections that proved the secret (ranks, and refused ones flushing their last frame).
constexpr size_t kMaxConnections = 4096;
// Connections that have not proved the secret yet are budgeted apart, so that idle ones cannot
// lock ranks out: past the budget, the oldest is closed to make room for the newest. A rank
// sends its hello at once, so it is never the oldest for long, and if it is closed anyway it is
// told (BUSY) and says hello again. The budget also stays within the descriptor limit.
constexpr size_t kMaxUnauthenticated = 1024;
constexpr size_t kMinUnauthenticated = 16;
// Bytes of DELIVERs the root holds for ranks that have not joined yet. Ranks send such early
// messages only during setup, and small ones; past this, a sender holding the secret could grow
// the root without bound, so the job fails instead, saying why.
constexpr size_t kMaxEarlyBytes = kMaxFramePayload;
// How often a root watching the launcher looks for ranks reported ended.
constexpr auto kLauncherPollInterval = std::chrono::milliseconds(50);

using Frame = std::shared_ptr<const std::string>;

Frame makeFrame(std::string bytes) { return std::make_shared<const std::string>(std::move(bytes)); }

tcp::endpoint toEndpoint(const SockAddr& a) {
  error_code ec;  // hostString() always parses; the error_code form just cannot throw
  return tcp::endpoint(asio::ip::make_address(a.hostString(), ec), a.port);
}

SockAddr fromEndpoint(const tcp::endpoint& ep) { return sockAddrFromNative(ep.data()); }

// kMaxUnauthenticated, or a quarter of the descriptor limit when that is lower.
size_t unauthenticatedBudget() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
    return kMaxUnauthenticated;
  return std::clamp<size_t>(static_cast<size_t>(lim.rlim_cur) / 4, kMinUnauthenticated,
                            kMaxUnauthenticated);
}

bool sameSecret(const BootstrapSecret& a, const BootstrapSecret& b) {
  uint8_t diff = 0;  // constant time: no early exit that would leak a matching prefix
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

// One accepted connection. kHello until its hello is accepted; kLeaving once it said BYE (or was
// refused) and only waits for its queued frames to be written; kClosed once the socket is shut.
struct Conn {
  enum class State { kHello, kJoined, kLeaving, kClosed };

  explicit Conn(asio::io_context& io) : sock(io), helloTimer(io) {}

  tcp::socket sock;
  asio::steady_timer helloTimer;
  std::string remote = "?";
  State state = State::kHello;
  int rank = -1;
  uint64_t nextSeq = 0;  // the allgather round this rank contributes to next
  std::array<uint8_t, kFrameHeaderBytes> header{};
  std::string body;
  std::deque<Frame> outq;
  bool writing = false;
  bool closeWhenFlushed = false;
  std::optional<std::list<std::shared_ptr<Conn>>::iterator> pendingAt;  // in Root::pending_
};
using ConnPtr = std::shared_ptr<Conn>;

struct Round {
  std::vector<std::string> blobs;
  std::vector<bool> have;
  int count = 0;
};

class Root {
 public:
  explicit Root(const TcpRootOptions& opts)
      : acceptor_(io_), acceptRetry_(io_), launcherPoll_(io_), opts_(opts) {}
  ~Root() { stopAndJoin(); }
  Root(const Root&) = delete;
  Root& operator=(const Root&) = delete;

  Status listen();
  void start() {
    accept();
    if (opts_.watchLauncher && launcherNoticesAvailable()) watchLauncher();
    thread_ = std::thread([this] { run(); });
  }
  SockAddr bound() const { return bound_; }
  TcpRootProgress progress(long long round) const;
  bool finished() const { return finished_.load(); }
  bool servingRanks() const { return activeRanks_.load() > 0; }
  void stopAndJoin() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] { closeAll(); });
    thread_.join();
  }

 private:
  void run();
  void accept();
  void onAccepted(ConnPtr c);
  void readHeader(ConnPtr c);
  void onHeader(ConnPtr c, size_t n);
  void onFrame(ConnPtr c, FrameType type);
  void onHello(ConnPtr c);
  void onAllgather(ConnPtr c);
  void onSend(ConnPtr c);
  void onBye(ConnPtr c);
  void onProgressQuery(ConnPtr c);
  void onReadError(ConnPtr c, const error_code& ec, size_t n);
  void drop(ConnPtr c, const std::string& reason);
  void refuse(ConnPtr c, const std::string& reason);
  void rankLost(int rank);
  void failJob(const std::string& why);
  void enqueue(ConnPtr c, Frame f);
  void writeNext(ConnPtr c);
  void closeNow(ConnPtr c);
  // Takes c off the unauthenticated list (it proved the secret, was refused or is closing).
  void unpend(const ConnPtr& c);
  void evictOldestUnauthenticated();
  void checkRoundsAgainstDepartures();
  void checkDone();
  void closeAll();
  void watchLauncher();
  void noteProgress(int rank);
  bool departed(int rank) const {
    return ranks_[rank] && ranks_[rank]->state != Conn::State::kJoined;
  }

  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  asio::steady_timer acceptRetry_;
  asio::steady_timer launcherPoll_;
  std::thread thread_;
  TcpRootOptions opts_;
  SockAddr bound_;
  std::string name_;
  std::atomic<bool> finished_{false};
  std::atomic<int> activeRanks_{0};

  // Everything below belongs to the root thread.
  std::set<ConnPtr> conns_;
  std::list<ConnPtr> pending_;  // unauthenticated connections, oldest first
  const size_t maxPending_ =
      opts_.maxUnauthenticated > 0 ? opts_.maxUnauthenticated : unauthenticatedBudget();
  int nranks_ = 0;
  std::vector<ConnPtr> ranks_;             // by rank; kept after the rank left
  std::vector<std::vector<Frame>> early_;  // DELIVERs for ranks that have not joined yet
  size_t earlyBytes_ = 0;                  // their total, at most kMaxEarlyBytes
  int joined_ = 0;
  int departed_ = 0;
  std::map<uint64_t, Round> rounds_;
  std::string failure_;
  bool shuttingDown_ = false;

  // Who has joined and which allgather round each rank sends next, for progress() on other
  // threads.
  mutable std::mutex progressMu_;
  std::vector<bool> joinedView_;
  std::vector<uint64_t> nextSeqView_;
};

TcpRootProgress Root::progress(long long round) const {
  std::lock_guard<std::mutex> g(progressMu_);
  TcpRootProgress p;
  p.nranks = static_cast<int>(joinedView_.size());
  for (int r = 0; r < p.nranks; ++r) {
    if (!joinedView_[static_cast<size_t>(r)])
      p.notJoined.push_back(r);
    else if (round >= 0 && nextSeqView_[static_cast<size_t>(r)] <= static_cast<uint64_t>(round))
      p.behindRound.push_back(r);
  }
  return p;
}

void Root::noteProgress(int rank) {
  std::lock_guard<std::mutex> g(progressMu_);
  if (joinedView_.empty()) {
    joinedView_.assign(static_cast<size_t>(nranks_), false);
    nextSeqView_.assign(static_cast<size_t>(nranks_), 0);
  }
  const ConnPtr& c = ranks_[static_cast<size_t>(rank)];
  joinedView_[static_cast<size_t>(rank)] = true;
  nextSeqView_[static_cast<size_t>(rank)] = c ? c->nextSeq : 0;
}

// A rank the launcher reports ended before it joined will never join: the job fails now rather
// than at every other rank's deadline. A rank that joined and then ended is seen through its
// connection.
void Root::watchLauncher() {
  launcherPoll_.expires_after(kLauncherPollInterval);
  launcherPoll_.async_wait([this](const error_code& ec) {
    if (ec || shuttingDown_ || !failure_.empty()) return;
    for (const auto& [rank, how] : launcherReportedExits()) {
      if (nranks_ != 0 && (rank >= nranks_ || ranks_[static_cast<size_t>(rank)])) continue;
      return failJob(
          format("strata-run reports that rank %d %s before joining", rank, how.c_str()));
    }
    if (nranks_ == 0 || joined_ < nranks_) watchLauncher();
  });
}

Status Root::listen() {
  tcp::endpoint ep = toEndpoint(opts_.bind);
  error_code ec;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (acceptor_.is_open()) acceptor_.close(ec);
    openCloseOnExec(acceptor_, ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (ec == boost::system::errc::address_not_available && opts_.fallbackToWildcard &&
        attempt == 0) {
      STRATA_INFO(Subsys::kBootstrap,
                  "bootstrap root: %s is not an address of this host; listening on every "
                  "interface instead",
                  opts_.bind.toString().c_str());
      ep = tcp::endpoint(ep.protocol(), ep.port());
      continue;
    }
    break;
  }
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return makeError(strataSystemError, "bootstrap root: cannot listen on %s: %s",
                     fromEndpoint(ep).toString().c_str(), ec.message().c_str());
  bound_ = fromEndpoint(acceptor_.local_endpoint(ec));
  name_ = bound_.toString();
  STRATA_INFO(Subsys::kBootstrap, "bootstrap root: listening on %s", name_.c_str());
  return Status::ok();
}

void Root::run() {
  try {
    io_.run();
  } catch (const std::exception& e) {
    STRATA_WARN("bootstrap root %s: stopped by an exception: %s", name_.c_str(), e.what());
  }
  activeRanks_.store(0);
  finished_.store(true);
}

void Root::accept() {
  auto c = std::make_shared<Conn>(io_);
  acceptor_.async_accept(c->sock, [this, c](const error_code& ec) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors and the like: back off rather than spin on the failing accept.
      STRATA_WARN("bootstrap root %s: accept failed: %s", name_.c_str(), ec.message().c_str());
      acceptRetry_.expires_after(std::chrono::milliseconds(100));
      acceptRetry_.async_wait([this](const error_code& e) {
        if (!e && acceptor_.is_open()) accept();
      });
      return;
    }
    error_code cloexecError;
    setCloseOnExec(c->sock.native_handle(), cloexecError);
    if (cloexecError) {
      STRATA_WARN("bootstrap root %s: dropped a connection: cannot set close-on-exec: %s",
                  name_.c_str(), cloexecError.message().c_str());
      c->sock.close(cloexecError);
    } else {
      onAccepted(c);
    }
    accept();
  });
}

void Root::onAccepted(ConnPtr c) {
  error_code ec;
  tcp::endpoint peer = c->sock.remote_endpoint(ec);
  if (!ec) c->remote = fromEndpoint(peer).toString();
  if (conns_.size() - pending_.size() >= kMaxConnections) {
    STRATA_WARN("bootstrap root %s: dropped connection from %s: too many connections",
                name_.c_str(), c->remote.c_str());
    c->sock.close(ec);
    return;
  }
  if (pending_.size() >= maxPending_) evictOldestUnauthenticated();
  c->sock.set_option(tcp::no_delay(true), ec);
  conns_.insert(c);
  c->pendingAt = pending_.insert(pending_.end(), c);
  c->helloTimer.expires_after(std::chrono::milliseconds(opts_.helloTimeoutMs));
  c->helloTimer.async_wait([this, c](const error_code& e) {
    if (e || c->state != Conn::State::kHello) return;
    drop(c, format("no hello within %ld ms", opts_.helloTimeoutMs));
  });
  readHeader(c);
}

void Root::evictOldestUnauthenticated() {
  ConnPtr oldest = pending_.front();
  STRATA_INFO(Subsys::kBootstrap,
              "bootstrap root %s: closing the oldest of %zu connections that have not proved the "
              "secret (from %s) to make room for a new one",
              name_.c_str(), pending_.size(), oldest->remote.c_str());
  unpend(oldest);
  oldest->helloTimer.cancel();
  oldest->state = Conn::State::kLeaving;
  oldest->closeWhenFlushed = true;
  enqueue(oldest, makeFrame(encodeFrame(FrameType::kBusy, {})));
}

void Root::unpend(const ConnPtr& c) {
  if (!c->pendingAt) return;
  pending_.erase(*c->pendingAt);
  c->pendingAt.reset();
}

void Root::readHeader(ConnPtr c) {
  asio::async_read(c->sock, asio::buffer(c->header), [this, c](const error_code& ec, size_t n) {
    // Leaving: only its last frames are written (an evicted connection's BUSY, say).
    if (c->state == Conn::State::kClosed || c->state == Conn::State::kLeaving) return;
    if (ec) {
      onReadError(c, ec, n);
      return;
    }
    onHeader(c, n);
  });
}

void Root::onHeader(ConnPtr c, size_t /*n*/) {
  auto h = parseFrameHeader(c->header.data());
  if (!h.isOk()) {
    drop(c, h.status().message());
    return;
  }
  FrameType type = h->type;
  if (c->state == Conn::State::kHello) {
    // Nothing but a small hello is buffered for a peer that has not proved the secret.
    if (type != FrameType::kHello) {
      drop(c, format("expected HELLO, got %s", frameTypeName(type)));
      return;
    }
    if (h->length > kMaxHelloPayload) {
      drop(c, format("oversized hello (%u bytes)", static_cast<unsigned>(h->length)));
      return;
    }
  }
  c->body.resize(h->length);
  if (h->length == 0) {
    onFrame(c, type);
    return;
  }
  asio::async_read(c->sock, asio::buffer(c->body), [this, c, type](const error_code& ec, size_t n) {
    if (c->state == Conn::State::kClosed || c->state == Conn::State::kLeaving) return;
    if (ec) {
      onReadError(c, ec, n + kFrameHeaderBytes);
      return;
    }
    onFrame(c, type);
  });
}

void Root::onFrame(ConnPtr c, FrameType type) {
  if (c->state == Conn::State::kHello) {
    onHello(c);
  } else {
    switch (type) {
      case FrameType::kAllgather: onAllgather(c); break;
      case FrameType::kSend: onSend(c); break;
      case FrameType::kBye: onBye(c); break;
      case FrameType::kProgressQuery: onProgressQuery(c); break;
      default: drop(c, format("unexpected %s frame from rank %d", frameTypeName(type), c->rank));
    }
  }
  std::string().swap(c->body);
  if (c->state == Conn::State::kJoined) readHeader(c);
}

void Root::onHello(ConnPtr c) {
  auto m = decodeHello(c->body);
  if (!m.isOk()) return drop(c, "malformed hello");
  const HelloMsg& h = m.value();
  if (h.version != kWireProtocolVersion)
    return drop(c, format("protocol version %u (this root speaks %u)", h.version,
                          kWireProtocolVersion));
  if (!sameSecret(h.secret, opts_.secret)) return drop(c, "wrong secret");
  if (h.nranks <= 0 || h.nranks > kMaxRanks || h.rank < 0 || h.rank >= h.nranks)
    return refuse(c, format("rank %d of %d is out of range (at most %d ranks)", h.rank, h.nranks,
                            kMaxRanks));
  if (nranks_ != 0 && h.nranks != nranks_)
    return refuse(c, format("rank %d says the job has %d ranks, but the ranks before it said %d",
                            h.rank, h.nranks, nranks_));
  if (nranks_ != 0 && ranks_[h.rank])
    return refuse(c, format("rank %d has already joined (from %s)", h.rank,
                            ranks_[h.rank]->remote.c_str()));
  if (nranks_ == 0) {
    nranks_ = h.nranks;
    ranks_.resize(nranks_);
    early_.resize(nranks_);
  }
  c->helloTimer.cancel();
  unpend(c);
  c->state = Conn::State::kJoined;
  c->rank = h.rank;
  ranks_[h.rank] = c;
  ++joined_;
  activeRanks_.fetch_add(1);
  noteProgress(h.rank);
  STRATA_INFO(Subsys::kBootstrap, "bootstrap root %s: rank %d of %d joined from %s (%d joined)",
              name_.c_str(), h.rank, nranks_, c->remote.c_str(), joined_);
  enqueue(c, makeFrame(encodeFrame(FrameType::kWelcome, {})));
  for (auto& f : early_[h.rank]) {
    earlyBytes_ -= f->size();
    enqueue(c, std::move(f));
  }
  early_[h.rank].clear();
  if (!failure_.empty()) enqueue(c, makeFrame(encodeFrame(FrameType::kError, failure_)));
}

void Root::onAllgather(ConnPtr c) {
  auto m = decodeAllgather(c->body);
  if (!m.isOk()) return drop(c, format("malformed ALLGATHER frame from rank %d", c->rank));
  if (m->seq != c->nextSeq)
    return drop(c, format("rank %d sent allgather round %llu, expected round %llu", c->rank,
                          static_cast<unsigned long long>(m->seq),
                          static_cast<unsigned long long>(c->nextSeq)));
  ++c->nextSeq;
  noteProgress(c->rank);
  if (!failure_.empty()) {
    enqueue(c, makeFrame(encodeFrame(FrameType::kError, failure_)));
    return;
  }
  Round& round = rounds_[m->seq];
  if (round.blobs.empty()) {
    round.blobs.resize(nranks_);
    round.have.assign(nranks_, false);
  }
  round.blobs[c->rank] = std::move(m->blob);
  round.have[c->rank] = true;
  if (++round.count < nranks_) {
    checkRoundsAgainstDepartures();
    return;
  }
  auto frame = encodeAllgatherResultFrame(m->seq, round.blobs);
  rounds_.erase(m->seq);
  if (!frame.isOk()) return failJob(frame.status().message());
  Frame f = makeFrame(std::move(frame.value()));
  for (auto& r : ranks_)
    if (r && r->state == Conn::State::kJoined) enqueue(r, f);
}

// A rank's wait for an allgather round timed out: it learns whom this root still waits for.
void Root::onProgressQuery(ConnPtr c) {
  auto seq = decodeProgressQuery(c->body);
  if (!seq.isOk()) return drop(c, format("malformed PROGRESS_QUERY frame from rank %d", c->rank));
  const TcpRootProgress p = progress(static_cast<long long>(std::min<uint64_t>(
      seq.value(), static_cast<uint64_t>(std::numeric_limits<long long>::max()))));
  ProgressMsg m;
  m.seq = seq.value();
  m.notJoined.assign(p.notJoined.begin(), p.notJoined.end());
  m.behindRound.assign(p.behindRound.begin(), p.behindRound.end());
  enqueue(c, makeFrame(encodeProgressFrame(m)));
}

void Root::onSend(ConnPtr c) {
  auto m = decodePeer(c->body);
  if (!m.isOk()) return drop(c, format("malformed SEND frame from rank %d", c->rank));
  if (m->peer < 0 || m->peer >= nranks_)
    return drop(c, format("rank %d sent to rank %d, outside 0..%d", c->rank, m->peer, nranks_ - 1));
  Frame f = makeFrame(encodePeerFrame(FrameType::kDeliver, c->rank, m->tag, m->blob));
  ConnPtr dst = ranks_[m->peer];
  if (!dst) {
    if (f->size() > kMaxEarlyBytes - earlyBytes_)
      return failJob(format("rank %d sent %zu bytes for rank %d, which has not joined yet: the "
                            "root holds at most %zu bytes for ranks that have not joined (%zu "
                            "held already)",
                            c->rank, m->blob.size(), m->peer, kMaxEarlyBytes, earlyBytes_));
    earlyBytes_ += f->size();
    early_[m->peer].push_back(std::move(f));
  }
  else if (dst->state == Conn::State::kJoined)
    enqueue(dst, std::move(f));
  else
    STRATA_TRACE(Subsys::kBootstrap, "bootstrap root %s: rank %d has left; dropping a message from rank %d",
                 name_.c_str(), m->peer, c->rank);
}

void Root::onBye(ConnPtr c) {
  STRATA_TRACE(Subsys::kBootstrap, "bootstrap root %s: rank %d said BYE", name_.c_str(), c->rank);
  c->state = Conn::State::kLeaving;
  c->closeWhenFlushed = true;
  ++departed_;
  activeRanks_.fetch_sub(1);
  if (!c->writing) writeNext(c);
  checkRoundsAgainstDepartures();
  checkDone();
}

void Root::onReadError(ConnPtr c, const error_code& ec, size_t n) {
  switch (c->state) {
    case Conn::State::kHello:
      if (n > 0) return drop(c, format("closed mid-hello (%s)", ec.message().c_str()));
      STRATA_INFO(Subsys::kBootstrap, "bootstrap root %s: connection from %s closed before hello",
                  name_.c_str(), c->remote.c_str());
      return closeNow(c);
    case Conn::State::kJoined: {
      STRATA_WARN("bootstrap root %s: rank %d (%s) disconnected without BYE: %s", name_.c_str(),
                  c->rank, c->remote.c_str(), ec.message().c_str());
      int rank = c->rank;
      closeNow(c);
      return rankLost(rank);
    }
    default: return closeNow(c);
  }
}

void Root::drop(ConnPtr c, const std::string& reason) {
  STRATA_WARN("bootstrap root %s: dropped connection from %s: %s", name_.c_str(),
              c->remote.c_str(), reason.c_str());
  bool wasRank = c->state == Conn::State::kJoined;
  closeNow(c);
  if (wasRank) rankLost(c->rank);
}

// For peers that proved the secret but cannot join: they are told why before the close.
void Root::refuse(ConnPtr c, const std::string& reason) {
  STRATA_WARN("bootstrap root %s: dropped connection from %s: %s", name_.c_str(),
              c->remote.c_str(), reason.c_str());
  c->helloTimer.cancel();
  unpend(c);
  c->state = Conn::State::kLeaving;
  c->closeWhenFlushed = true;
  enqueue(c, makeFrame(encodeFrame(FrameType::kError, reason)));
}

void Root::rankLost(int rank) {
  ++departed_;
  activeRanks_.fetch_sub(1);
  failJob(format("rank %d disconnected", rank));
  checkDone();
}

// The job cannot complete: every rank still here learns why, now and on its next allgather.
void Root::failJob(const std::string& why) {
  if (!failure_.empty()) return;
  failure_ = why;
  STRATA_WARN("bootstrap root %s: %s; failing the job's pending and future rounds", name_.c_str(),
              why.c_str());
  rounds_.clear();
  Frame f = makeFrame(encodeFrame(FrameType::kError, why));
  for (auto& r : ranks_)
    if (r && r->state == Conn::State::kJoined) enqueue(r, f);
}

void Root::checkRoundsAgainstDepartures() {
  for (const auto& [seq, round] : rounds_)
    for (int r = 0; r < nranks_; ++r)
      if (!round.have[r] && departed(r))
        return failJob(format("rank %d left before contributing to allgather round %llu", r,
                              static_cast<unsigned long long>(seq)));
}

void Root::enqueue(ConnPtr c, Frame f) {
  if (c->state == Conn::State::kClosed) return;
  c->outq.push_back(std::move(f));
  if (!c->writing) writeNext(c);
}

void Root::writeNext(ConnPtr c) {
  if (c->outq.empty()) {
    if (c->closeWhenFlushed) closeNow(c);
    return;
  }
  c->writing = true;
  Frame f = c->outq.front();
  asio::async_write(c->sock, asio::buffer(*f), [this, c, f](const error_code& ec, size_t) {
    c->writing = false;
    if (c->state == Conn::State::kClosed) return;
    if (ec) {
      bool wasRank = c->state == Conn::State::kJoined;
      if (wasRank)
        STRATA_WARN("bootstrap root %s: rank %d (%s) unreachable: %s", name_.c_str(), c->rank,
                    c->remote.c_str(), ec.message().c_str());
      closeNow(c);
      if (wasRank) rankLost(c->rank);
      return;
    }
    c->outq.pop_front();
    writeNext(c);
  });
}

void Root::closeNow(ConnPtr c) {
  if (c->state == Conn::State::kClosed) return;
  c->state = Conn::State::kClosed;
  unpend(c);
  error_code ec;
  c->helloTimer.cancel();
  c->sock.close(ec);
  c->outq.clear();
  conns_.erase(c);
}

// Every rank has joined and left: nothing more can happen here. Until all have joined, the root
// stays, so that a rank arriving after another died still learns why the job failed.
void Root::checkDone() {
  if (shuttingDown_ || nranks_ == 0 || joined_ < nranks_ || departed_ < joined_) return;
  STRATA_INFO(Subsys::kBootstrap, "bootstrap root %s: all %d ranks have left; shutting down",
              name_.c_str(), joined_);
  shuttingDown_ = true;
  error_code ec;
  acceptor_.close(ec);
  acceptRetry_.cancel();
  launcherPoll_.cancel();
  std::vector<ConnPtr> waiting;
  for (const auto& c : conns_)
    if (c->state == Conn::State::kHello) waiting.push_back(c);
  for (auto& c : waiting) closeNow(c);
  // Leaving connections still flush their last frames; run() returns when they are done.
}

void Root::closeAll() {
  shuttingDown_ = true;
  error_code ec;
  acceptor_.close(ec);
  acceptRetry_.cancel();
  launcherPoll_.cancel();
  std::vector<ConnPtr> all(conns_.begin(), conns_.end());
  for (auto& c : all) closeNow(c);
}

// Keeps roots alive past the call that made them; joins their threads once they finish, and
// all of them at exit.
class RootRegistry {
 public:
  static RootRegistry& instance() {
    static RootRegistry registry;
    return registry;
  }

  void add(std::unique_ptr<Root> root) {
    std::lock_guard<std::mutex> g(mu_);
    forgetIfForkedLocked();
    reapLocked();
    roots_.push_back(std::move(root));
  }

  size_t liveCount() {
    std::lock_guard<std::mutex> g(mu_);
    forgetIfForkedLocked();
    reapLocked();
    return roots_.size();
  }

  std::optional<TcpRootProgress> progress(uint16_t port, long long round) {
    std::lock_guard<std::mutex> g(mu_);
    forgetIfForkedLocked();
    for (auto& r : roots_)
      if (!r->finished() && r->bound().port == port) return r->progress(round);
    return std::nullopt;
  }

  ~RootRegistry() {
    std::lock_guard<std::mutex> g(mu_);
    forgetIfForkedLocked();
    // Let roots that still serve ranks deliver what they hold (the last round's result to a slow
    // rank, say) before the process takes them down.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kExitGraceMs);
    auto busy = [&] {
      for (auto& r : roots_)
        if (r->servingRanks() && !r->finished()) return true;
      return false;
    };
    while (busy() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (auto& r : roots_) r->stopAndJoin();
    roots_.clear();
  }

 private:
  RootRegistry() : pid_(getpid()) {
    // Root threads log until they are joined in our destructor: construct the logger first so
    // it is destroyed after us.
    (void)logEnabled(LogLevel::kWarn, Subsys::kBootstrap);
  }

  void reapLocked() {
    for (auto it = roots_.begin(); it != roots_.end();) {
      if ((*it)->finished()) {
        it = roots_.erase(it);  // joins the finished thread
      } else {
        ++it;
      }
    }
  }

  // A forked child inherits the roots but not their threads: never join or destroy those.
  void forgetIfForkedLocked() {
    if (getpid() == pid_) return;
    for (auto& r : roots_) (void)r.release();
    roots_.clear();
    pid_ = getpid();
  }

  std::mutex mu_;
  std::vector<std::unique_ptr<Root>> roots_;
  pid_t pid_;
};

}  // namespace

Result<SockAddr> startTcpRoot(const TcpRootOptions& opts) {
  RootRegistry& registry = RootRegistry::instance();
  auto root = std::make_unique<Root>(opts);
  STRATA_CHECK(root->listen());
  root->start();
  SockAddr bound = root->bound();
  registry.add(std::move(root));
  return bound;
}

size_t liveTcpRootCount() { return RootRegistry::instance().liveCount(); }

std::optional<TcpRootProgress> tcpRootProgress(uint16_t port, long long round) {
  return RootRegistry::instance().progress(port, round);
}

}  // namespace strata
