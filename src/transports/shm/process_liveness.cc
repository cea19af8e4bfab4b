#include "transports/shm/process_liveness.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace strata {
namespace {

// Closes the fd on every path.
class ProcFile {
 public:
  explicit ProcFile(const char* path) : fd_(::open(path, O_RDONLY | O_CLOEXEC)) {}
  ~ProcFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  ProcFile(const ProcFile&) = delete;
  ProcFile& operator=(const ProcFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

ProcessState processState(int pid) {
  if (pid <= 0) return ProcessState::kExited;
  char path[32];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  ProcFile file(path);
  if (file.fd() < 0) return ProcessState::kExited;
  // "pid (comm) S ...": comm may hold spaces and parentheses, so the state follows the last ')'.
  char buf[512];
  ssize_t n = ::read(file.fd(), buf, sizeof(buf) - 1);
  if (n <= 0) return ProcessState::kExited;  // the process vanished between open and read
  buf[n] = '\0';
  const char* close = std::strrchr(buf, ')');
  if (close == nullptr || close[1] != ' ' || close[2] == '\0')
    return ProcessState::kRunning;  // unknown: assume alive
  switch (close[2]) {
    case 'Z':
    case 'X':
    case 'x': return ProcessState::kExited;
    case 'T':
    case 't': return ProcessState::kStopped;
    default: return ProcessState::kRunning;
  }
}

bool processExited(int pid) { return processState(pid) == ProcessState::kExited; }

}  // namespace strata
