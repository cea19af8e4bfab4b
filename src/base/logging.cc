#include "base/logging.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "base/status.h"

namespace strata {
namespace {

// Initial-exec: the library is linked, not dlopen()ed, so its few bytes of TLS sit in the static
// block and every call reads them without __tls_get_addr.
[[gnu::tls_model("initial-exec")]] thread_local int tlsRank = -1;

struct LogConfig {
  // Read on every log call from any thread, rewritten by reloadLogConfig.
  std::atomic<LogLevel> level{LogLevel::kNone};
  std::atomic<uint32_t> subsys{Subsys::kAll};
  FILE* out = stderr;
  std::string host;
  bool loaded = false;
  std::atomic<bool> versionShown{false};
};

std::mutex& logMutex() {
  static std::mutex m;
  return m;
}

LogConfig& config() {
  static LogConfig c;
  return c;
}

uint32_t parseSubsys(const char* spec) {
  static const struct {
    const char* name;
    uint32_t bit;
  } kNames[] = {
      {"INIT", kInit}, {"COLL", kColl}, {"P2P", kP2P},   {"SHM", kShm}, {"BOOTSTRAP", kBootstrap},
      {"NET", kNet},   {"TOPO", kTopo}, {"TUNE", kTune}, {"ENV", kEnv}, {"ALLOC", kAlloc},
      {"ALL", kAll}};
  bool invert = spec[0] == '^';
  if (invert) ++spec;
  uint32_t mask = 0;
  std::string s(spec);
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    std::string tok = s.substr(pos, end - pos);
    bool known = false;
    for (const auto& n : kNames) {
      if (strcasecmp(tok.c_str(), n.name) == 0) {
        mask |= n.bit;
        known = true;
      }
    }
    // A misspelt name would otherwise hide the lines it meant to show, without a word.
    if (!known && !tok.empty()) {
      std::string names;
      for (const auto& n : kNames) names += (names.empty() ? "" : ", ") + std::string(n.name);
      fprintf(stderr,
              "STRATA WARN STRATA_DEBUG_SUBSYS: unknown subsystem '%s' ignored; known: %s\n",
              tok.c_str(), names.c_str());
    }
    pos = end + 1;
  }
  return invert ? ~mask : mask;
}

std::string expandPath(const char* pattern, const std::string& host) {
  std::string out;
  for (const char* p = pattern; *p; ++p) {
    if (p[0] == '%' && p[1] == 'h') {
      out += host;
      ++p;
    } else if (p[0] == '%' && p[1] == 'p') {
      out += std::to_string(getpid());
      ++p;
    } else {
      out += *p;
    }
  }
  return out;
}

void loadLocked(LogConfig& c) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  if (char* dot = strchr(host, '.')) *dot = '\0';
  c.host = host;
  c.level = LogLevel::kNone;
  if (const char* lv = getenv("STRATA_DEBUG")) {
    if (strcasecmp(lv, "WARN") == 0)
      c.level = LogLevel::kWarn;
    else if (strcasecmp(lv, "INFO") == 0)
      c.level = LogLevel::kInfo;
    else if (strcasecmp(lv, "TRACE") == 0)
      c.level = LogLevel::kTrace;
    else if (strcasecmp(lv, "VERSION") == 0)
      c.level = LogLevel::kVersion;
    else if (*lv != '\0')
      fprintf(stderr,
              "STRATA WARN STRATA_DEBUG=%s is not VERSION, WARN, INFO or TRACE; logging is off\n",
              lv);
  }
  c.versionShown = false;
  const char* ss = getenv("STRATA_DEBUG_SUBSYS");
  c.subsys = ss ? parseSubsys(ss) : Subsys::kAll;
  if (c.out != stderr && c.out != nullptr) fclose(c.out);
  c.out = stderr;
  if (const char* f = getenv("STRATA_DEBUG_FILE")) {
    std::string path = expandPath(f, c.host);
    // Close-on-exec and owner-only (0600), like every file Strata creates: logs name hosts,
    // ports and peers.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (FILE* fp = fd >= 0 ? fdopen(fd, "w") : nullptr) {
      setvbuf(fp, nullptr, _IOLBF, 0);
      c.out = fp;
    } else if (fd >= 0) {
      ::close(fd);
    }
  }
  c.loaded = true;
}

LogConfig& loaded() {
  LogConfig& c = config();
  static std::once_flag once;
  std::call_once(once, [&] {
    std::lock_guard<std::mutex> g(logMutex());
    loadLocked(c);
  });
  return c;
}

const char* levelName(LogLevel l) {
  switch (l) {
    case LogLevel::kVersion:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kTrace:
      return "TRACE";
    default:
      return "";
  }
}

}  // namespace

bool logEnabled(LogLevel level, uint32_t subsys) {
  const LogConfig& c = loaded();
  if (level > c.level.load(std::memory_order_relaxed)) return false;
  return level <= LogLevel::kWarn || (c.subsys.load(std::memory_order_relaxed) & subsys) != 0;
}

void logVersionOnce() {
  LogConfig& c = loaded();
  if (!logEnabled(LogLevel::kVersion, Subsys::kAll) || c.versionShown.exchange(true)) return;
  logMessage(LogLevel::kVersion, Subsys::kInit, "Strata version %d.%d.%d", STRATA_MAJOR,
             STRATA_MINOR, STRATA_PATCH);
}

void logMessage(LogLevel level, uint32_t /*subsys*/, const char* fmt, ...) {
  LogConfig& c = loaded();
  va_list ap;
  va_start(ap, fmt);
  std::string msg = vformat(fmt, ap);
  va_end(ap);
  char rank[16];
  if (tlsRank >= 0)
    snprintf(rank, sizeof(rank), "%d", tlsRank);
  else
    snprintf(rank, sizeof(rank), "-");
  std::lock_guard<std::mutex> g(logMutex());
  fprintf(c.out, "%s:%d:%ld [%s] STRATA %s %s\n", c.host.c_str(), getpid(),
          static_cast<long>(syscall(SYS_gettid)), rank, levelName(level), msg.c_str());
  fflush(c.out);
}

int currentLogRank() { return tlsRank; }

RankScope::RankScope(int rank) : saved_(tlsRank) { tlsRank = rank; }
RankScope::~RankScope() { tlsRank = saved_; }

void reloadLogConfig() {
  loaded();
  std::lock_guard<std::mutex> g(logMutex());
  loadLocked(config());
}

}  // namespace strata
