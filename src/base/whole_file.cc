#include "base/whole_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace strata {
namespace {

class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }
  // close(2)'s result: a write-back error can surface only here.
  int release() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

}  // namespace

Result<std::string> readWholeFile(const std::string& path) {
  OwnedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    return makeError(strataInvalidArgument, "'%s' cannot be opened: %s", path.c_str(),
                     std::strerror(errno));
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return text;
    } else if (errno != EINTR) {
      return makeError(strataSystemError, "'%s' cannot be read: %s", path.c_str(),
                       std::strerror(errno));
    }
  }
}

Status writeWholeFile(const std::string& path, std::string_view data, unsigned mode) {
  OwnedFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (fd.get() < 0)
    return makeError(strataSystemError, "'%s' cannot be created: %s", path.c_str(),
                     std::strerror(errno));
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return makeError(strataSystemError, "'%s' cannot be written: %s", path.c_str(),
                       std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (fd.release() != 0)
    return makeError(strataSystemError, "'%s' cannot be written: %s", path.c_str(),
                     std::strerror(errno));
  return Status::ok();
}

}  // namespace strata
