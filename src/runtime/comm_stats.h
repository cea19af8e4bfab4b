// A communicator's statistics (strataCommGetStats): the last operation's counters, the totals,
// and the virtual time of transports that keep one (sim). Updated after every operation and
// read from any thread.
#pragma once

#include <cstdint>
#include <mutex>

#include "plan/executor.h"

namespace strata {

struct CommStats {
  int numLevels = 1;
  int64_t clockPs = 0;  // the transport's virtual clock after the last operation
  uint64_t ops = 0;
  ExecCounters last, total;
  int64_t lastSimPs = 0, totalSimPs = 0;
  char lastAlgo[32] = {};  // the algorithm of the last operation's last plan
};

class CommStatistics {
 public:
  void setLevels(int n);
  // Records one completed operation (a call or a fused group); clockPs is the transport's
  // virtual clock after it.
  void add(const ExecCounters& c, int64_t clockPs, const char* algo);
  CommStats snapshot();

 private:
  std::mutex mutex_;
  CommStats stats_;
};

}  // namespace strata
