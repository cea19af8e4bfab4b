// NCCL-style logging: STRATA_DEBUG=VERSION|WARN|INFO|TRACE, STRATA_DEBUG_SUBSYS=INIT,COLL,...,
// STRATA_DEBUG_FILE=path with %h (host) and %p (pid). Lines look like
//   host:pid:tid [rank] STRATA INFO message
#pragma once

#include <cstdint>

namespace strata {

enum class LogLevel : int { kNone = 0, kVersion = 1, kWarn = 2, kInfo = 3, kTrace = 4 };

// Subsystems, selectable with STRATA_DEBUG_SUBSYS (a leading ^ excludes the listed ones).
enum Subsys : uint32_t {
  kInit = 1u << 0,
  kColl = 1u << 1,
  kP2P = 1u << 2,
  kShm = 1u << 3,
  kBootstrap = 1u << 4,
  kNet = 1u << 5,
  kTopo = 1u << 6,
  kTune = 1u << 7,
  kEnv = 1u << 8,
  kAlloc = 1u << 9,
  kAll = ~0u,
};

bool logEnabled(LogLevel level, uint32_t subsys);
void logMessage(LogLevel level, uint32_t subsys, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

// The rank printed in log lines written by this thread; set by RankScope at API entry.
int currentLogRank();
class RankScope {
 public:
  explicit RankScope(int rank);
  ~RankScope();
  RankScope(const RankScope&) = delete;
  RankScope& operator=(const RankScope&) = delete;

 private:
  int saved_;
};

// "Strata version X.Y.Z", once per process, at level VERSION and above (as NCCL_DEBUG=VERSION).
void logVersionOnce();

// Re-reads the STRATA_DEBUG* environment (for tests; normally read once).
void reloadLogConfig();

}  // namespace strata

#define STRATA_LOG_AT_(lvl, subsys, ...)                                                   \
  do {                                                                                     \
    if (::strata::logEnabled(lvl, subsys)) ::strata::logMessage(lvl, subsys, __VA_ARGS__); \
  } while (0)
#define STRATA_WARN(...) \
  STRATA_LOG_AT_(::strata::LogLevel::kWarn, ::strata::Subsys::kAll, __VA_ARGS__)
#define STRATA_INFO(subsys, ...) STRATA_LOG_AT_(::strata::LogLevel::kInfo, subsys, __VA_ARGS__)
#define STRATA_TRACE(subsys, ...) STRATA_LOG_AT_(::strata::LogLevel::kTrace, subsys, __VA_ARGS__)
