#include "bootstrap/tcp_rescue.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>

#include "base/logging.h"
#include "bootstrap/tcp_bootstrap.h"
#include "bootstrap/unique_id.h"

namespace strata {
namespace {

constexpr const char* kHello = "strata-rescue/1";
constexpr size_t kMaxLine = 1024;
// A connection that says nothing for this long is dropped (the host serves one at a time).
constexpr long kRequestTimeoutMs = 5000;

// One owned descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string hexOf(const uint8_t* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 0xf]);
  }
  return out;
}

bool fromHex(const std::string& hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < n; ++i) {
    const int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

socklen_t toNative(const SockAddr& a, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (a.family == 6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a.port);
    std::memcpy(&in6->sin6_addr, a.addr.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  in->sin_family = AF_INET;
  in->sin_port = htons(a.port);
  std::memcpy(&in->sin_addr, a.addr.data(), 4);
  return sizeof(sockaddr_in);
}

Status systemError(const char* what, const std::string& where) {
  return makeError(strataSystemError, "shrink rendezvous: %s %s: %s", what, where.c_str(),
                   std::strerror(errno));
}

// Waits until fd is ready for `events`, the deadline passes or the abort flag is raised.
Status waitFd(int fd, short events, const Deadline& dl, const AbortFlag* abort,
              const std::string& what) {
  for (;;) {
    if (abort && abort->load(std::memory_order_acquire))
      return makeError(strataRemoteError, "shrink rendezvous: aborted while %s", what.c_str());
    if (dl.expired())
      return makeError(strataTimeout, "shrink rendezvous: timed out after %ld ms while %s",
                       dl.timeoutMs(), what.c_str());
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, 50);
    if (r > 0) return Status::ok();
    if (r < 0 && errno != EINTR) return systemError("poll while", what);
  }
}

Result<std::string> readLine(int fd, const Deadline& dl, const AbortFlag* abort,
                             const std::string& what) {
  std::string line;
  for (;;) {
    STRATA_CHECK(waitFd(fd, POLLIN, dl, abort, what));
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0)
      return makeError(strataRemoteError, "shrink rendezvous: connection closed while %s",
                       what.c_str());
    line.append(buf, static_cast<size_t>(n));
    const size_t nl = line.find('\n');
    if (nl != std::string::npos) return line.substr(0, nl);
    if (line.size() > kMaxLine)
      return makeError(strataRemoteError, "shrink rendezvous: a line of over %zu bytes while %s",
                       kMaxLine, what.c_str());
  }
}

Status writeAll(int fd, const std::string& s, const Deadline& dl, const AbortFlag* abort,
                const std::string& what) {
  size_t done = 0;
  while (done < s.size()) {
    STRATA_CHECK(waitFd(fd, POLLOUT, dl, abort, what));
    const ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return systemError("send while", what);
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

struct Blob {
  SockAddr addr;
  std::string token;
};

Result<Blob> parseBlob(const std::string& blob, int rank) {
  std::istringstream in(blob);
  std::string kind, host, token;
  unsigned port = 0;
  in >> kind >> host >> port >> token;
  Blob b;
  auto resolved = resolveHostPort(host + ":" + std::to_string(port));
  if (kind != "tcp" || !resolved.isOk() || token.size() != 32)
    return makeError(strataInternalError, "shrink rendezvous: rank %d's rescue address '%s' is "
                     "malformed", rank, blob.c_str());
  b.addr = resolved.value();
  b.token = token;
  return b;
}

class TcpRescue final : public Rescue {
 public:
  TcpRescue(Fd listener, SockAddr addr) : listener_(std::move(listener)), addr_(addr) {
    const BootstrapSecret t = randomSecret();
    token_ = hexOf(t.data(), t.size());
  }

  std::string blob() const override {
    // "[v6]" host strings keep their brackets out: resolveHostPort takes "[v6]:port".
    const std::string bare = addr_.hostString();
    const std::string host = addr_.family == 6 ? format("[%s]", bare.c_str()) : bare;
    return format("tcp %s %u %s", host.c_str(), unsigned{addr_.port}, token_.c_str());
  }

  Result<std::unique_ptr<Bootstrap>> regroup(const std::vector<std::string>& blobs,
                                             const std::vector<int>& survivors, int me,
                                             const BootstrapOptions& opts) override {
    const Deadline dl = Deadline::afterMs(opts.timeoutMs);
    const int n = static_cast<int>(survivors.size());
    const int newRank = static_cast<int>(
        std::find(survivors.begin(), survivors.end(), me) - survivors.begin());
    const std::string list = rankListString(survivors);
    if (survivors.front() == me) {
      STRATA_ASSIGN(strataUniqueId id, hostFreshRootAt(addr_));
      STRATA_CHECK(serve(id, survivors, list, dl, opts.abort));
      return connectTcpBootstrap(id, newRank, n, opts);
    }
    STRATA_ASSIGN(Blob host, parseBlob(blobs[static_cast<size_t>(survivors.front())],
                                       survivors.front()));
    STRATA_ASSIGN(strataUniqueId id, fetch(host, survivors.front(), list, me, dl, opts.abort));
    return connectTcpBootstrap(id, newRank, n, opts);
  }

 private:
  // Hands the id to every other survivor; fails when one names another survivor list.
  Status serve(const strataUniqueId& id, const std::vector<int>& survivors,
               const std::string& list, const Deadline& dl, const AbortFlag* abort) {
    const std::string reply =
        "ok " + hexOf(reinterpret_cast<const uint8_t*>(id.internal), sizeof id.internal) + "\n";
    std::vector<int> waiting(survivors.begin() + 1, survivors.end());
    while (!waiting.empty()) {
      STRATA_CHECK(waitFd(listener_.get(), POLLIN, dl, abort,
                          "waiting for survivors " + rankListString(waiting) +
                              " to ask this rank (the lowest survivor) for the new bootstrap"));
      Fd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (conn.get() < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
        return systemError("accept on", addr_.toString());
      }
      const Deadline requestDl = Deadline::afterMs(kRequestTimeoutMs);
      auto line = readLine(conn.get(), requestDl, abort, "reading a survivor's request");
      if (!line.isOk()) continue;  // not a survivor, or one that gave up: the others still come
      std::istringstream in(line.value());
      std::string hello, token, theirList;
      int rank = -1;
      in >> hello >> token >> theirList >> rank;
      if (hello != kHello || token != token_) continue;  // not a member of the communicator
      auto it = std::find(waiting.begin(), waiting.end(), rank);
      if (theirList != list) {
        const std::string why = format("rank %d shrinks to old ranks %s but rank %d to %s", rank,
                                       theirList.c_str(), survivors.front(), list.c_str());
        (void)writeAll(conn.get(), "error " + why + "\n", requestDl, abort, "refusing");
        return makeError(strataInvalidArgument, "shrink: %s", why.c_str());
      }
      if (it == waiting.end()) continue;  // asked twice: already served
      STRATA_CHECK(writeAll(conn.get(), reply, requestDl, abort, "answering a survivor"));
      waiting.erase(it);
    }
    return Status::ok();
  }

  Result<strataUniqueId> fetch(const Blob& host, int hostRank, const std::string& list, int me,
                               const Deadline& dl, const AbortFlag* abort) {
    const std::string what =
        format("asking rank %d (the lowest survivor, at %s) for the new bootstrap", hostRank,
               host.addr.toString().c_str());
    for (;;) {
      Fd s(::socket(host.addr.family == 6 ? AF_INET6 : AF_INET,
                    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      if (s.get() < 0) return systemError("socket for", what);
      sockaddr_storage ss;
      const socklen_t len = toNative(host.addr, ss);
      int r = ::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len);
      if (r < 0 && errno != EINPROGRESS) {
        return makeError(strataRemoteError, "shrink rendezvous: cannot reach rank %d at %s: %s",
                         hostRank, host.addr.toString().c_str(), std::strerror(errno));
      }
      STRATA_CHECK(waitFd(s.get(), POLLOUT, dl, abort, what));
      int err = 0;
      socklen_t errLen = sizeof err;
      ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &errLen);
      if (err != 0) {
        return makeError(strataRemoteError, "shrink rendezvous: cannot reach rank %d at %s: %s",
                         hostRank, host.addr.toString().c_str(), std::strerror(err));
      }
      STRATA_CHECK(writeAll(s.get(), format("%s %s %s %d\n", kHello, host.token.c_str(),
                                            list.c_str(), me),
                            dl, abort, what));
      STRATA_ASSIGN(std::string line, readLine(s.get(), dl, abort, what));
      if (line.rfind("error ", 0) == 0)
        return makeError(strataInvalidArgument, "shrink: %s", line.c_str() + 6);
      strataUniqueId id;
      if (line.rfind("ok ", 0) != 0 ||
          !fromHex(line.substr(3), reinterpret_cast<uint8_t*>(id.internal), sizeof id.internal))
        return makeError(strataRemoteError, "shrink rendezvous: rank %d answered '%.40s'",
                         hostRank, line.c_str());
      return id;
    }
  }

  Fd listener_;
  SockAddr addr_;
  std::string token_;
};

}  // namespace

Result<std::unique_ptr<Rescue>> openTcpRescue(const SockAddr& local) {
  SockAddr bind = local;
  bind.port = 0;
  const std::string where = bind.toString();
  Fd fd(::socket(bind.family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                 0));
  if (fd.get() < 0) return systemError("socket for", where);
  sockaddr_storage ss;
  socklen_t len = toNative(bind, ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return systemError("bind", where);
  if (::listen(fd.get(), SOMAXCONN) != 0) return systemError("listen on", where);
  len = sizeof ss;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return systemError("getsockname of", where);
  const SockAddr bound = sockAddrFromNative(&ss);
  STRATA_TRACE(Subsys::kBootstrap, "shrink rendezvous listens on %s", bound.toString().c_str());
  return std::unique_ptr<Rescue>(std::make_unique<TcpRescue>(std::move(fd), bound));
}

}  // namespace strata
