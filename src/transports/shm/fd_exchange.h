// Passing file descriptors between processes of one host: a Unix stream socket in the abstract
// namespace and SCM_RIGHTS. Abstract sockets have no file permissions, so both ends check the
// other's kernel-reported credentials (SO_PEERCRED): the same user id as this process, and the
// process id the bootstrap announced for that rank. Every descriptor is close-on-exec.
#pragma once

#include <string>
#include <vector>

#include "base/deadline.h"
#include "base/status.h"

namespace strata {

// Owns one descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  void reset();

 private:
  int fd_ = -1;
};

// What bounds every wait of an exchange.
struct FdWait {
  Deadline deadline;
  const AbortFlag* abort = nullptr;
};

// A listening socket that receives one descriptor per accepted connection.
class FdListener {
 public:
  // A socket under a random abstract name, accepting up to `backlog` pending connections.
  static Result<FdListener> create(int backlog);
  // The name peers connect to (printable; the leading NUL of the abstract namespace is implied).
  const std::string& name() const { return name_; }

  struct Received {
    int rank = -1;  // the rank the sender claims (checked against its pid)
    UniqueFd fd;
  };
  // Accepts one connection and receives its descriptor. pidOfRank[r] is rank r's process id;
  // a sender of another user, or whose pid is not that of the rank it claims, is refused.
  Result<Received> receive(const std::vector<int>& pidOfRank, const FdWait& wait);

 private:
  UniqueFd sock_;
  std::string name_;
};

// Connects to a peer's listener, checks the listener belongs to peerPid and this user, and
// sends fd labelled with this rank.
Status sendFd(const std::string& name, int peerRank, int peerPid, int myRank, int fd,
              const FdWait& wait);

}  // namespace strata
