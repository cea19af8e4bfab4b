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
  int64_t clockPs = 0;  // the rank's virtual clock: the latest of the transport's and streams' 
  uint64_t ops = 0;
  ExecCounters last, total;
  int64_t lastSimPs = 0, totalSimPs = 0;
  char lastAlgo[32] = {};  // the algorithm of the last operation's last plan
  char lastAlgoSource[16] = {};  // what chose it: "tune string", "tune file", "model", ...
};

class CommStatistics {
 public:
  void setLevels(int n);
  // Records one completed operation (a call or a fused group) that ran on the transport's
  // virtual clock from startPs (-1: where the previous operation ended) to endPs; algo and
  // source: its last plan's algorithm and what chose it.
  void add(const ExecCounters& c, int64_t startPs, int64_t endPs, const char* algo,
           const char* source);
  CommStats snapshot();

 private:
  std::mutex mutex_;
  CommStats stats_;
  int64_t engineEndPs_ = 0;  // the transport's clock after the last operation
};

}  // namespace strata
