#include "runtime/comm_stats.h"

#include <algorithm>
#include <cstring>

namespace strata {

void CommStatistics::setLevels(int n) {
  std::lock_guard<std::mutex> g(mutex_);
  stats_.numLevels = n;
}

void CommStatistics::add(const ExecCounters& c, int64_t startPs, int64_t endPs, const char* algo,
                         const char* source) {
  std::lock_guard<std::mutex> g(mutex_);
  std::strncpy(stats_.lastAlgo, algo, sizeof(stats_.lastAlgo) - 1);
  std::strncpy(stats_.lastAlgoSource, source, sizeof(stats_.lastAlgoSource) - 1);
  ExecCounters& t = stats_.total;
  t.bytesSent += c.bytesSent;
  for (int l = 0; l < STRATA_MAX_LEVELS; ++l) t.bytesPerLevel[l] += c.bytesPerLevel[l];
  t.steps += c.steps;
  t.syncs += c.syncs;
  t.callBytes += c.callBytes;
  stats_.last = c;
  ++stats_.ops;
  stats_.lastSimPs = endPs - (startPs < 0 ? engineEndPs_ : startPs);
  stats_.totalSimPs += stats_.lastSimPs;
  engineEndPs_ = endPs;
  stats_.clockPs = std::max(stats_.clockPs, endPs);
}

CommStats CommStatistics::snapshot() {
  std::lock_guard<std::mutex> g(mutex_);
  return stats_;
}

}  // namespace strata
