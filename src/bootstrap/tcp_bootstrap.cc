#include "bootstrap/tcp_bootstrap.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "bootstrap/cloexec_socket.h"
#include "bootstrap/launcher_notice.h"
#include "bootstrap/rescue.h"
#include "bootstrap/tcp_rescue.h"
#include "bootstrap/tcp_root.h"
#include "bootstrap/tcp_wire.h"
#include "base/logging.h"
#include "base/rank_list.h"

namespace strata {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

// Longest stretch between two looks at the abort flag.
constexpr auto kWaitSlice = std::chrono::milliseconds(20);
constexpr long kFirstRetryMs = 10;
constexpr long kMaxRetryMs = 200;
// How long the destructor waits for the root to acknowledge BYE by closing its side.
constexpr long kByeLingerMs = 2000;
// How long a rank whose allgather wait timed out waits for the root to say whom it waits for.
constexpr long kProgressReplyMs = 250;

// Completion state shared with an async operation's handler, which may run after the waiting
// call has given up.
struct OpState {
  bool done = false;
  error_code ec;
};

bool worthRetrying(const error_code& ec) {
  return ec == asio::error::connection_refused || ec == asio::error::timed_out ||
         ec == asio::error::host_unreachable || ec == asio::error::network_unreachable ||
         ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
         ec == asio::error::try_again;
}

class TcpBootstrap final : public Bootstrap {
 public:
  TcpBootstrap(const UniqueIdFields& id, int rank, int nranks, const BootstrapOptions& opts)
      : rank_(rank), nranks_(nranks), opts_(opts), id_(id), rootName_(id.root.toString()) {}
  ~TcpBootstrap() override;

  Status connect();

  int rank() const override { return rank_; }
  int size() const override { return nranks_; }
  Result<std::vector<std::string>> allgather(const std::string& mine) override;
  Status send(int peer, int tag, const std::string& data) override;
  Result<std::string> recv(int peer, int tag) override;
  Result<std::string> newChildId() override;
  Result<std::unique_ptr<Rescue>> openRescue() override;
  Result<std::unique_ptr<Bootstrap>> joinChild(const std::string& id, int rank,
                                               int nranks) override;
  void setAbortFlag(const AbortFlag* abort) override { opts_.abort = abort; }

 private:
  bool aborted() const { return opts_.abort && opts_.abort->load(std::memory_order_relaxed); }
  std::string who() const { return format("rank %d of %d", rank_, nranks_); }
  std::string atRoot() const { return "the root at " + rootName_; }

  // Runs this connection's I/O until ready() holds. Fails on the deadline, the abort flag, the
  // connection closing, or (when stopOnRemoteError) an ERROR from the root.
  Status waitUntil(const char* op, const Deadline& dl, const std::string& waitingFor,
                   const std::function<bool()>& ready, bool stopOnRemoteError = true);
  // The timeout of op. When the root says whom it still waits for (it lives in this process, or
  // it answered askRootProgress), the message names those ranks.
  Status timedOut(const char* op, const Deadline& dl, const std::string& waitingFor) const;
  // This rank's wait for allgather round waitingRound_ timed out, and the root lives in another
  // process: asks it whom it still waits for, giving it kProgressReplyMs to answer.
  void askRootProgress();
  // Fails when the launcher reports that rank 0, which hosts the root, has ended.
  Status checkRootHostAlive() const;
  // Fails when the connection can no longer carry a new operation.
  Status checkUsable(const char* op) const;
  Result<SockAddr> localAddress(const char* op);
  Status writeFrame(const char* op, std::string frame, const Deadline& dl);
  void markBroken(Status why);
  void startReading();
  void onFrame(FrameType type);
  void onReadFailed(const error_code& ec);
  // Closes the socket and forgets everything read from it, for a new attempt at connecting.
  void resetConnection();

  const int rank_;
  const int nranks_;
  BootstrapOptions opts_;
  const UniqueIdFields id_;
  const std::string rootName_;
  std::mutex mu_;  // one operation at a time

  asio::io_context io_{1};
  tcp::socket sock_{io_};
  std::array<uint8_t, kFrameHeaderBytes> header_{};
  std::string body_;
  bool welcomed_ = false;
  bool busy_ = false;    // the root closed us before our hello, to make room (BUSY)
  bool closed_ = false;  // no more frames will arrive
  std::string closeReason_;
  std::string remoteError_;  // the root's first ERROR: the job has failed
  Status broken_;            // a local failure that left the stream unusable
  uint64_t seq_ = 0;         // this rank's next allgather round
  long long waitingRound_ = -1;  // the allgather round being waited for; -1 in other waits
  std::optional<ProgressMsg> rootProgress_;  // the root's answer to this rank's last query
  bool askingRoot_ = false;                  // askRootProgress is running
  std::map<uint64_t, std::vector<std::string>> results_;
  std::map<std::pair<int, int>, std::deque<std::string>> inbox_;  // (source, tag) -> messages
};

Status TcpBootstrap::waitUntil(const char* op, const Deadline& dl, const std::string& waitingFor,
                               const std::function<bool()>& ready, bool stopOnRemoteError) {
  for (;;) {
    if (ready()) return Status::ok();
    if (!broken_.isOk()) return broken_;
    if (stopOnRemoteError && !remoteError_.empty())
      return makeError(strataRemoteError, "bootstrap %s: %s (reported by %s; %s)", op,
                       remoteError_.c_str(), atRoot().c_str(), who().c_str());
    if (closed_)
      return makeError(strataRemoteError, "bootstrap %s: %s %s (%s)", op, atRoot().c_str(),
                       closeReason_.c_str(), who().c_str());
    if (aborted()) return makeError(strataRemoteError, "bootstrap %s: aborted (%s)", op, who().c_str());
    if (dl.expired()) {
      askRootProgress();
      return timedOut(op, dl, waitingFor);
    }
    auto slice = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kWaitSlice);
    if (dl.bounded())
      slice = std::clamp(dl.at() - Deadline::Clock::now(),
                         std::chrono::steady_clock::duration(std::chrono::milliseconds(1)), slice);
    if (io_.stopped()) io_.restart();
    io_.run_one_for(slice);  // returns after one handler, so ready() is seen at once
    // Out of work (nothing outstanding on the socket): do not spin.
    if (io_.stopped() && !ready()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void TcpBootstrap::askRootProgress() {
  if (askingRoot_ || waitingRound_ < 0 || closed_ || !broken_.isOk() ||
      tcpRootProgress(id_.root.port, waitingRound_))
    return;
  askingRoot_ = true;
  const uint64_t round = static_cast<uint64_t>(waitingRound_);
  const Deadline dl = Deadline::afterMs(kProgressReplyMs);
  if (writeFrame("progress query", encodeProgressQueryFrame(round), dl).isOk())
    (void)waitUntil("progress query", dl, atRoot() + " to say whom it waits for",
                    [&] { return rootProgress_ && rootProgress_->seq == round; },
                    /*stopOnRemoteError=*/false);
  askingRoot_ = false;
}

Status TcpBootstrap::timedOut(const char* op, const Deadline& dl,
                              const std::string& waitingFor) const {
  // The root can say whom it still waits for: directly when it lives in this process, else
  // through its answer to askRootProgress.
  std::optional<TcpRootProgress> p = tcpRootProgress(id_.root.port, waitingRound_);
  const bool hostedHere = p.has_value();
  if (!p && waitingRound_ >= 0 && rootProgress_ &&
      rootProgress_->seq == static_cast<uint64_t>(waitingRound_))
    p = TcpRootProgress{nranks_,
                        {rootProgress_->notJoined.begin(), rootProgress_->notJoined.end()},
                        {rootProgress_->behindRound.begin(), rootProgress_->behindRound.end()}};
  auto ranks = [](const std::vector<int>& list) {
    return format("rank%s %s", list.size() == 1 ? "" : "s", formatRankList(list).c_str());
  };
  std::string whom;
  if (p && !p->notJoined.empty())
    whom = ranks(p->notJoined) + ", which never joined";
  else if (p && !p->behindRound.empty())
    whom = ranks(p->behindRound) + format(" to send allgather round %lld to", waitingRound_);
  if (!whom.empty())
    return makeError(strataTimeout,
                     "bootstrap %s: timed out after %ld ms waiting for %s the root %s %s (%s)", op,
                     dl.timeoutMs(), whom.c_str(), hostedHere ? "this process hosts at" : "at",
                     rootName_.c_str(), who().c_str());
  return makeError(strataTimeout, "bootstrap %s: timed out after %ld ms waiting for %s (%s)", op,
                   dl.timeoutMs(), waitingFor.c_str(), who().c_str());
}

Status TcpBootstrap::checkRootHostAlive() const {
  if (rank_ == 0 || !id_.rankZeroHosts || !launcherNoticesApply(rank_, nranks_))
    return Status::ok();
  auto exits = launcherReportedExits();
  auto it = exits.find(0);
  if (it == exits.end()) return Status::ok();
  return makeError(strataRemoteError,
                   "bootstrap connect: rank 0, which hosts %s, %s (reported by strata-run; %s)",
                   atRoot().c_str(), it->second.c_str(), who().c_str());
}

Status TcpBootstrap::checkUsable(const char* op) const {
  if (!broken_.isOk()) return broken_;
  if (!remoteError_.empty())
    return makeError(strataRemoteError, "bootstrap %s: %s (reported by %s; %s)", op,
                     remoteError_.c_str(), atRoot().c_str(), who().c_str());
  if (closed_)
    return makeError(strataRemoteError, "bootstrap %s: %s %s (%s)", op, atRoot().c_str(),
                     closeReason_.c_str(), who().c_str());
  if (aborted()) return makeError(strataRemoteError, "bootstrap %s: aborted (%s)", op, who().c_str());
  return Status::ok();
}

void TcpBootstrap::markBroken(Status why) {
  if (broken_.isOk()) broken_ = std::move(why);
  error_code ec;
  sock_.close(ec);
}

Status TcpBootstrap::writeFrame(const char* op, std::string frame, const Deadline& dl) {
  struct WriteState : OpState {
    std::string bytes;
  };
  auto st = std::make_shared<WriteState>();
  st->bytes = std::move(frame);
  asio::async_write(sock_, asio::buffer(st->bytes), [st](const error_code& ec, size_t) {
    st->done = true;
    st->ec = ec;
  });
  Status s = waitUntil(op, dl, atRoot() + " to take " + std::to_string(st->bytes.size()) + " bytes",
                       [&] { return st->done; }, /*stopOnRemoteError=*/false);
  if (!s.isOk()) {
    // A frame cut short leaves the stream out of step: nothing more can be sent on it.
    markBroken(s);
    return s;
  }
  if (st->ec) {
    Status e = makeError(strataRemoteError, "bootstrap %s: cannot write to %s: %s (%s)", op,
                         atRoot().c_str(), st->ec.message().c_str(), who().c_str());
    markBroken(e);
    return e;
  }
  return Status::ok();
}

void TcpBootstrap::startReading() {
  asio::async_read(sock_, asio::buffer(header_), [this](const error_code& ec, size_t) {
    if (ec) return onReadFailed(ec);
    auto h = parseFrameHeader(header_.data());
    if (!h.isOk()) {
      return markBroken(makeError(strataRemoteError, "bootstrap: bad data from %s: %s (%s)",
                                  atRoot().c_str(), h.status().message().c_str(), who().c_str()));
    }
    FrameType type = h->type;
    body_.resize(h->length);
    if (h->length == 0) return onFrame(type);
    asio::async_read(sock_, asio::buffer(body_), [this, type](const error_code& e, size_t) {
      if (e) return onReadFailed(e);
      onFrame(type);
    });
  });
}

void TcpBootstrap::resetConnection() {
  error_code ec;
  sock_.close(ec);
  // Let the cancelled read run its handler now, so it cannot mark the next connection closed.
  io_.restart();
  io_.poll();
  io_.restart();
  welcomed_ = busy_ = closed_ = false;
  closeReason_.clear();
  body_.clear();
  broken_ = Status::ok();
}

void TcpBootstrap::onReadFailed(const error_code& ec) {
  closed_ = true;
  if (closeReason_.empty()) {
    closeReason_ = ec == asio::error::eof ? std::string("closed the connection")
                                          : "connection failed: " + ec.message();
    // The root goes away with the process hosting it: name that rank as the likely loss.
    if (id_.rankZeroHosts && rank_ != 0 && welcomed_)
      closeReason_ += "; rank 0, which hosts it, may have died";
  }
}

void TcpBootstrap::onFrame(FrameType type) {
  Status bad;
  switch (type) {
    case FrameType::kWelcome: welcomed_ = true; break;
    case FrameType::kBusy: busy_ = true; break;
    case FrameType::kAllgatherResult: {
      auto m = decodeAllgatherResult(body_);
      if (!m.isOk()) {
        bad = m.status();
      } else if (m->blobs.size() != static_cast<size_t>(nranks_)) {
        bad = makeError(strataRemoteError, "allgather result holds %zu blobs, expected %d",
                        m->blobs.size(), nranks_);
      } else {
        results_[m->seq] = std::move(m->blobs);
      }
      break;
    }
    case FrameType::kDeliver: {
      auto m = decodePeer(body_);
      if (!m.isOk()) {
        bad = m.status();
      } else if (m->peer < 0 || m->peer >= nranks_) {
        bad = makeError(strataRemoteError, "message from rank %d, outside 0..%d", m->peer,
                        nranks_ - 1);
      } else {
        inbox_[{m->peer, m->tag}].push_back(std::move(m->blob));
      }
      break;
    }
    case FrameType::kProgress: {
      auto m = decodeProgress(body_);
      if (!m.isOk())
        bad = m.status();
      else
        rootProgress_ = std::move(m.value());
      break;
    }
    case FrameType::kError:
      if (remoteError_.empty()) remoteError_ = body_.empty() ? "the job failed" : body_;
      break;
    default:
      bad = makeError(strataRemoteError, "unexpected %s frame", frameTypeName(type));
  }
  std::string().swap(body_);
  if (!bad.isOk()) {
    return markBroken(makeError(strataRemoteError, "bootstrap: bad data from %s: %s (%s)",
                                atRoot().c_str(), bad.message().c_str(), who().c_str()));
  }
  startReading();
}

Status TcpBootstrap::connect() {
  std::lock_guard<std::mutex> g(mu_);
  Deadline dl = Deadline::afterMs(opts_.timeoutMs);
  error_code addrError;
  tcp::endpoint ep(asio::ip::make_address(id_.root.hostString(), addrError), id_.root.port);
  if (addrError)
    return makeError(strataInvalidArgument, "bootstrap connect: bad root address %s (%s)",
                     rootName_.c_str(), who().c_str());
  long retryMs = kFirstRetryMs;
  std::string lastError = "none";
  auto backOff = [&]() -> Status {
    asio::steady_timer timer(io_, std::chrono::milliseconds(retryMs));
    auto fired = std::make_shared<OpState>();
    timer.async_wait([fired](const error_code&) { fired->done = true; });
    Status s = waitUntil("connect", dl, atRoot(), [&] { return fired->done; });
    if (!s.isOk()) return Status(s.code(), s.message() + "; last attempt: " + lastError);
    retryMs = std::min(retryMs * 2, kMaxRetryMs);
    return Status::ok();
  };
  for (;;) {
    error_code ec;
    openCloseOnExec(sock_, ep.protocol(), ec);
    if (ec)
      return makeError(strataSystemError, "bootstrap connect: cannot open a socket (%s): %s",
                       who().c_str(), ec.message().c_str());
    auto st = std::make_shared<OpState>();
    sock_.async_connect(ep, [st](const error_code& e) {
      st->done = true;
      st->ec = e;
    });
    Status s = waitUntil("connect", dl, atRoot(), [&] { return st->done; });
    if (!s.isOk()) {
      sock_.close(ec);
      return Status(s.code(), s.message() + "; last attempt: " + lastError);
    }
    if (st->ec) {
      lastError = st->ec.message();
      sock_.close(ec);
      if (!worthRetrying(st->ec))
        return makeError(strataSystemError, "bootstrap connect: cannot reach %s (%s): %s",
                         atRoot().c_str(), who().c_str(), lastError.c_str());
      STRATA_CHECK(checkRootHostAlive());
      // The root may not listen yet (rank 0 starts it): back off and try again.
      STRATA_CHECK(backOff());
      continue;
    }
    sock_.set_option(tcp::no_delay(true), ec);
    startReading();
    STRATA_CHECK(writeFrame("connect", encodeHelloFrame(kWireProtocolVersion, id_.secret, rank_, nranks_), dl));
    s = waitUntil("connect", dl, atRoot() + " to accept the hello", [&] { return welcomed_; });
    if (!s.isOk() && busy_ && !dl.expired()) {
      // The root closed us to make room among connections that had not proved the secret (a
      // flood of idle ones, say): say hello again on a new connection.
      lastError = "the root was busy with unauthenticated connections";
      STRATA_INFO(Subsys::kBootstrap, "bootstrap: %s: %s is busy; saying hello again",
                  who().c_str(), atRoot().c_str());
      resetConnection();
      STRATA_CHECK(backOff());
      continue;
    }
    if (!s.isOk() && closed_ && remoteError_.empty())
      return makeError(strataRemoteError,
                       "bootstrap connect: %s closed the connection during the hello of %s; the id "
                       "may come from another job or Strata version, or its root has finished",
                       atRoot().c_str(), who().c_str());
    STRATA_CHECK(s);
    break;
  }
  error_code ec;
  STRATA_INFO(Subsys::kBootstrap, "bootstrap: %s connected to %s from %s", who().c_str(),
              atRoot().c_str(), sockAddrFromNative(sock_.local_endpoint(ec).data()).toString().c_str());
  return Status::ok();
}

TcpBootstrap::~TcpBootstrap() {
  std::lock_guard<std::mutex> g(mu_);
  if (sock_.is_open() && welcomed_ && !closed_ && broken_.isOk() && !aborted()) {
    Deadline dl = Deadline::afterMs(opts_.timeoutMs > 0 ? std::min(opts_.timeoutMs, kByeLingerMs)
                                                        : kByeLingerMs);
    if (writeFrame("close", encodeFrame(FrameType::kBye, {}), dl).isOk()) {
      // Read until the root closes its side, so that our close sends FIN, not an RST that could
      // discard the BYE before the root reads it.
      error_code ec;
      sock_.shutdown(tcp::socket::shutdown_send, ec);
      (void)waitUntil("close", dl, atRoot(), [&] { return closed_; }, false);
    }
  }
  error_code ec;
  sock_.close(ec);
  STRATA_INFO(Subsys::kBootstrap, "bootstrap: %s closed its connection to %s%s", who().c_str(),
              atRoot().c_str(), aborted() ? " (aborted)" : "");
}

Result<std::vector<std::string>> TcpBootstrap::allgather(const std::string& mine) {
  if (mine.size() > kMaxFramePayload - kAllgatherOverhead)
    return makeError(strataInvalidArgument,
                     "bootstrap allgather: blob of %zu bytes exceeds the %u-byte frame limit (%s)",
                     mine.size(), static_cast<unsigned>(kMaxFramePayload), who().c_str());
  std::lock_guard<std::mutex> g(mu_);
  STRATA_CHECK(checkUsable("allgather"));
  Deadline dl = Deadline::afterMs(opts_.timeoutMs);
  uint64_t seq = seq_++;
  STRATA_CHECK(writeFrame("allgather", encodeAllgatherFrame(seq, mine), dl));
  waitingRound_ = static_cast<long long>(seq);
  Status waited = waitUntil("allgather", dl, atRoot(), [&] { return results_.count(seq) != 0; });
  waitingRound_ = -1;
  STRATA_CHECK(waited);
  std::vector<std::string> out = std::move(results_[seq]);
  // Rounds this rank gave up on (timed out) are settled too.
  results_.erase(results_.begin(), results_.upper_bound(seq));
  return out;
}

Status TcpBootstrap::send(int peer, int tag, const std::string& data) {
  if (peer < 0 || peer >= nranks_)
    return makeError(strataInvalidArgument, "bootstrap send: peer %d is outside 0..%d (%s)", peer,
                     nranks_ - 1, who().c_str());
  if (data.size() > kMaxFramePayload - kPeerOverhead)
    return makeError(strataInvalidArgument,
                     "bootstrap send: %zu bytes to rank %d exceed the %u-byte frame limit (%s)",
                     data.size(), peer, static_cast<unsigned>(kMaxFramePayload), who().c_str());
  std::lock_guard<std::mutex> g(mu_);
  if (peer == rank_) {
    inbox_[{rank_, tag}].push_back(data);
    return Status::ok();
  }
  STRATA_CHECK(checkUsable("send"));
  return writeFrame("send", encodePeerFrame(FrameType::kSend, peer, tag, data),
                    Deadline::afterMs(opts_.timeoutMs));
}

Result<std::string> TcpBootstrap::recv(int peer, int tag) {
  if (peer < 0 || peer >= nranks_)
    return makeError(strataInvalidArgument, "bootstrap recv: peer %d is outside 0..%d (%s)", peer,
                     nranks_ - 1, who().c_str());
  std::lock_guard<std::mutex> g(mu_);
  Deadline dl = Deadline::afterMs(opts_.timeoutMs);
  auto key = std::make_pair(peer, tag);
  std::string waitingFor = format("rank %d (tag %d) through %s", peer, tag, atRoot().c_str());
  STRATA_CHECK(waitUntil("recv", dl, waitingFor, [&] {
    auto it = inbox_.find(key);
    return it != inbox_.end() && !it->second.empty();
  }));
  auto& q = inbox_[key];
  std::string out = std::move(q.front());
  q.pop_front();
  return out;
}

// The address this rank reaches the root from, for `op`'s message.
Result<SockAddr> TcpBootstrap::localAddress(const char* op) {
  std::lock_guard<std::mutex> g(mu_);
  STRATA_CHECK(checkUsable(op));
  error_code ec;
  tcp::endpoint local = sock_.local_endpoint(ec);
  if (ec)
    return makeError(strataSystemError, "bootstrap %s: no local address (%s): %s", op,
                     who().c_str(), ec.message().c_str());
  return sockAddrFromNative(local.data());
}

// The child's root listens on the interface this rank already reaches the others through.
Result<std::string> TcpBootstrap::newChildId() {
  STRATA_ASSIGN(SockAddr local, localAddress("newChildId"));
  STRATA_ASSIGN(strataUniqueId id, hostFreshRootAt(local));
  return std::string(id.internal, sizeof(id.internal));
}

// The survivors' rendezvous listens where this rank reaches the root from.
Result<std::unique_ptr<Rescue>> TcpBootstrap::openRescue() {
  STRATA_ASSIGN(SockAddr local, localAddress("openRescue"));
  return openTcpRescue(local);
}

Result<std::unique_ptr<Bootstrap>> TcpBootstrap::joinChild(const std::string& id, int rank,
                                                           int nranks) {
  strataUniqueId uid;
  if (id.size() != sizeof(uid.internal))
    return makeError(strataInvalidArgument, "bootstrap joinChild: id has %zu bytes, expected %zu (%s)",
                     id.size(), sizeof(uid.internal), who().c_str());
  std::memcpy(uid.internal, id.data(), sizeof(uid.internal));
  return connectTcpBootstrap(uid, rank, nranks, opts_);
}

}  // namespace

Result<std::unique_ptr<Bootstrap>> connectTcpBootstrap(const strataUniqueId& id, int rank,
                                                       int nranks, const BootstrapOptions& opts) {
  if (nranks < 1)
    return makeError(strataInvalidArgument, "bootstrap connect: nranks %d must be at least 1",
                     nranks);
  if (rank < 0 || rank >= nranks)
    return makeError(strataInvalidArgument, "bootstrap connect: rank %d is outside 0..%d", rank,
                     nranks - 1);
  STRATA_ASSIGN(UniqueIdFields fields, decodeUniqueId(id));
  if (rank == 0 && fields.rankZeroHosts) {
    TcpRootOptions ro;
    ro.bind = fields.root;
    ro.secret = fields.secret;
    ro.fallbackToWildcard = true;
    ro.watchLauncher = launcherNoticesApply(rank, nranks);
    auto started = startTcpRoot(ro);
    if (!started.isOk())
      return Status(started.status()).context("bootstrap: rank 0 hosts the root named by the id");
  }
  auto bs = std::make_unique<TcpBootstrap>(fields, rank, nranks, opts);
  STRATA_CHECK(bs->connect());
  return std::unique_ptr<Bootstrap>(std::move(bs));
}

}  // namespace strata
