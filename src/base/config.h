// Communicator options resolved from strataConfig_t, the environment and defaults, in that order.
#pragma once

#include <string>

#include "base/status.h"
#include "strata/strata.h"

namespace strata {

struct CommConfig {
  bool blocking = true;
  long timeoutMs = 300000;
  std::string commName;
  std::string transport;
  std::string topoFile;
  std::string algo;
  std::string tuneFile;  // STRATA_TUNE_FILE: read at init (scheduler/tune_file.h)
  // Low-precision reductions staged in float32 (STRATA_REDUCE_PRECISION=float32) instead of
  // reduced at their own width.
  bool reduceInFloat32 = false;
  // STRATA_CHECK=1: before each collective call, the ranks exchange the call's whole signature
  // (sequence number, collective, count, type, operator, root) and refuse to run a call they
  // disagree on (runtime/call_check.h).
  bool checkCalls = false;
};

// `inherit` (the parent's options for a split) replaces the defaults and the environment.
Result<CommConfig> resolveConfig(const strataConfig_t* user, const CommConfig* inherit);

}  // namespace strata
