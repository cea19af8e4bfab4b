#include "transports/shm/fd_exchange.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include "base/backoff.h"

namespace strata {
namespace {

constexpr uint32_t kFdMagic = 0x53465831;  // "SFX1"

struct FdHeader {
  uint32_t magic = kFdMagic;
  int32_t rank = -1;
};

Status sysError(const char* what) {
  const int err = errno;
  return makeError(strataSystemError, "descriptor exchange: %s failed: %s", what,
                   std::strerror(err));
}

socklen_t fillAddress(const std::string& name, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  addr.sun_path[0] = '\0';  // abstract namespace: no file, gone with the socket
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

std::string randomName() {
  std::random_device rd;
  static const char kDigits[] = "0123456789abcdef";
  std::string name = "strata-fd-" + std::to_string(::getpid()) + "-";
  for (int word = 0; word < 4; ++word) {
    uint32_t v = rd();
    for (int nibble = 0; nibble < 8; ++nibble, v >>= 4) name.push_back(kDigits[v & 0xf]);
  }
  return name;
}

Status checkWait(const FdWait& w, const char* what) {
  if (w.abort && w.abort->load(std::memory_order_relaxed))
    return makeError(strataRemoteError, "descriptor exchange: aborted while %s", what);
  if (w.deadline.expired())
    return makeError(strataTimeout, "descriptor exchange: no progress for %ld ms while %s",
                     w.deadline.timeoutMs(), what);
  return Status::ok();
}

// Waits until fd is readable (or writable), in slices so abort and the deadline are seen.
Status waitFor(int fd, short events, const FdWait& w, const char* what) {
  for (;;) {
    STRATA_CHECK(checkWait(w, what));
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, 20);
    if (r > 0) return Status::ok();
    if (r < 0 && errno != EINTR) return sysError("poll");
  }
}

struct Creds {
  int pid = 0;
  unsigned uid = 0;
};

Result<Creds> peerCreds(int fd) {
  ucred c{};
  socklen_t len = sizeof c;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) return sysError("SO_PEERCRED");
  return Creds{static_cast<int>(c.pid), static_cast<unsigned>(c.uid)};
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<FdListener> FdListener::create(int backlog) {
  FdListener l;
  l.sock_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (l.sock_.get() < 0) return sysError("socket");
  l.name_ = randomName();
  sockaddr_un addr;
  const socklen_t len = fillAddress(l.name_, addr);
  if (::bind(l.sock_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return sysError("bind");
  if (::listen(l.sock_.get(), backlog < 1 ? 1 : backlog) != 0) return sysError("listen");
  return l;
}

Result<FdListener::Received> FdListener::receive(const std::vector<int>& pidOfRank,
                                                 const FdWait& wait) {
  STRATA_CHECK(waitFor(sock_.get(), POLLIN, wait, "waiting for a peer's descriptor"));
  UniqueFd conn(::accept4(sock_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (conn.get() < 0) {
    if (errno == EAGAIN || errno == EINTR) return receive(pidOfRank, wait);
    return sysError("accept");
  }
  STRATA_ASSIGN(Creds cred, peerCreds(conn.get()));
  if (cred.uid != ::getuid())
    return makeError(strataSystemError,
                     "descriptor exchange: refused a connection from pid %d of user %u (this "
                     "process runs as user %u)",
                     cred.pid, cred.uid, static_cast<unsigned>(::getuid()));
  STRATA_CHECK(waitFor(conn.get(), POLLIN, wait, "receiving a peer's descriptor"));
  FdHeader h;
  iovec iov{&h, sizeof h};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t got = ::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC);
  if (got < 0) return sysError("recvmsg");
  UniqueFd fd;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int v = -1;
      std::memcpy(&v, CMSG_DATA(c), sizeof v);
      fd = UniqueFd(v);
    }
  }
  if (got != static_cast<ssize_t>(sizeof h) || h.magic != kFdMagic || fd.get() < 0 ||
      (msg.msg_flags & MSG_CTRUNC))
    return makeError(strataSystemError,
                     "descriptor exchange: malformed message from pid %d (no descriptor)",
                     cred.pid);
  if (h.rank < 0 || static_cast<size_t>(h.rank) >= pidOfRank.size() ||
      pidOfRank[static_cast<size_t>(h.rank)] != cred.pid)
    return makeError(strataSystemError,
                     "descriptor exchange: pid %d claims to be rank %d, whose pid is %d; refused",
                     cred.pid, h.rank,
                     h.rank >= 0 && static_cast<size_t>(h.rank) < pidOfRank.size()
                         ? pidOfRank[static_cast<size_t>(h.rank)]
                         : -1);
  return Received{h.rank, std::move(fd)};
}

Status sendFd(const std::string& name, int peerRank, int peerPid, int myRank, int fd,
              const FdWait& wait) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.get() < 0) return sysError("socket");
  sockaddr_un addr;
  const socklen_t len = fillAddress(name, addr);
  Backoff backoff;
  while (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    if (errno != EAGAIN && errno != EINTR)
      return makeError(strataSystemError,
                       "descriptor exchange: connecting to rank %d (pid %d) failed: %s", peerRank,
                       peerPid, std::strerror(errno));
    STRATA_CHECK(checkWait(wait, "connecting to a peer"));
    backoff.idle();  // the listener's backlog is full: it is busy accepting
  }
  STRATA_ASSIGN(Creds cred, peerCreds(sock.get()));
  if (cred.uid != ::getuid() || cred.pid != peerPid)
    return makeError(strataSystemError,
                     "descriptor exchange: the socket of rank %d belongs to pid %d of user %u, "
                     "not to pid %d of user %u; descriptor not sent",
                     peerRank, cred.pid, cred.uid, peerPid, static_cast<unsigned>(::getuid()));
  FdHeader h;
  h.rank = myRank;
  iovec iov{&h, sizeof h};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  std::memset(control, 0, sizeof control);
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  STRATA_CHECK(waitFor(sock.get(), POLLOUT, wait, "sending a descriptor"));
  if (::sendmsg(sock.get(), &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof h))
    return sysError("sendmsg");
  return Status::ok();
}

}  // namespace strata
