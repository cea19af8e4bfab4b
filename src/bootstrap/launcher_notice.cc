#include "bootstrap/launcher_notice.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>

#include "base/logging.h"

namespace strata {
namespace {

class NoticeReader {
 public:
  static NoticeReader& instance() {
    static NoticeReader reader;
    return reader;
  }

  bool available() const { return configured_; }

  std::map<int, std::string> exits() {
    std::lock_guard<std::mutex> g(mu_);
    drainLocked();
    return exits_;
  }

 private:
  NoticeReader() {
    // Only strata-run's ranks: the variable means nothing without its launcher.
    const char* text = std::getenv("STRATA_RUN_NOTICE_FD");
    if (!text || !*text || !std::getenv("STRATA_RANK")) return;
    char* end = nullptr;
    long fd = std::strtol(text, &end, 10);
    if (*end != '\0' || fd < 3 || fd > 1 << 20) return;
    int flags = ::fcntl(static_cast<int>(fd), F_GETFL);
    if (flags < 0) return;  // not open here: a process the rank started, say
    // The rank's own children do not inherit it, and reading never blocks.
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    ::fcntl(static_cast<int>(fd), F_SETFL, flags | O_NONBLOCK);
    fd_ = static_cast<int>(fd);
    configured_ = true;
  }

  void drainLocked() {
    if (fd_ < 0) return;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n > 0) {
        partial_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {  // the launcher is gone: nothing more will come
        ::close(fd_);
        fd_ = -1;
      }
      break;
    }
    for (size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
      parseLine(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
  }

  void parseLine(const std::string& line) {
    constexpr const char* kExit = "exit ";
    if (line.rfind(kExit, 0) != 0) return;
    char* end = nullptr;
    long rank = std::strtol(line.c_str() + 5, &end, 10);
    if (end == line.c_str() + 5 || *end != ' ' || rank < 0) return;
    std::string how = end + 1;
    STRATA_INFO(Subsys::kBootstrap, "bootstrap: strata-run reports that rank %ld %s", rank,
                how.c_str());
    exits_.emplace(static_cast<int>(rank), std::move(how));
  }

  std::mutex mu_;
  bool configured_ = false;
  int fd_ = -1;
  std::string partial_;
  std::map<int, std::string> exits_;
};

}  // namespace

std::map<int, std::string> launcherReportedExits() { return NoticeReader::instance().exits(); }

bool launcherNoticesAvailable() { return NoticeReader::instance().available(); }

bool launcherNoticesApply(int rank, int nranks) {
  if (!launcherNoticesAvailable()) return false;
  const char* r = std::getenv("STRATA_RANK");
  const char* n = std::getenv("STRATA_NRANKS");
  return r && n && std::to_string(rank) == r && std::to_string(nranks) == n;
}

}  // namespace strata
