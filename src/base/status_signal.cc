#include "base/status_signal.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace strata {
namespace {

std::atomic<uint64_t> gRequests{0};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "the handler must not take a lock");
struct sigaction gPrevious;
// The request pipe: the handler writes a byte (the write end does not block: a full pipe already
// holds a request), the watcher thread reads them.
int gPipe[2] = {-1, -1};
std::atomic<bool> gInstalled{false};

void onStatusSignal(int sig, siginfo_t* info, void* uctx) {
  const int savedErrno = errno;
  gRequests.fetch_add(1, std::memory_order_relaxed);
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::write(gPipe[1], &byte, 1);
  errno = savedErrno;
  // Chain to the handler the application had installed (the default action would terminate).
  if (gPrevious.sa_flags & SA_SIGINFO) {
    if (gPrevious.sa_sigaction) gPrevious.sa_sigaction(sig, info, uctx);
  } else if (gPrevious.sa_handler != SIG_DFL && gPrevious.sa_handler != SIG_IGN &&
             gPrevious.sa_handler) {
    gPrevious.sa_handler(sig);
  }
}

}  // namespace

void installStatusSignal() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* v = std::getenv("STRATA_SIGUSR1");
    if (v && std::strcmp(v, "0") == 0) return;
    if (::pipe2(gPipe, O_CLOEXEC) != 0) return;
    ::fcntl(gPipe[1], F_SETFL, ::fcntl(gPipe[1], F_GETFL) | O_NONBLOCK);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = onStatusSignal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &gPrevious);
    gInstalled.store(true);
  });
}

uint64_t statusRequests() { return gRequests.load(std::memory_order_relaxed); }

bool waitStatusRequest() {
  if (!gInstalled.load()) return false;
  char buf[64];
  for (;;) {
    const ssize_t n = ::read(gPipe[0], buf, sizeof buf);
    if (n > 0) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

void emitStatus(const std::string& report) {
  std::fwrite(report.data(), 1, report.size(), stderr);
  std::fflush(stderr);
  // Never through a link, never into a file another user made.
  const std::string path = statusFilePath(static_cast<long>(::getpid()));
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_uid == ::getuid() && S_ISREG(st.st_mode)) {
    [[maybe_unused]] const ssize_t n = ::write(fd, report.data(), report.size());
  }
  ::close(fd);
}

std::string statusFilePath(long pid) { return "/tmp/strata-status-" + std::to_string(pid); }

}  // namespace strata
