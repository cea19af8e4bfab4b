// A communicator's error state: the last error's message (strataGetLastError) and the failure
// that made it unusable, if any. Written by failing calls, read from any thread.
#pragma once

#include <mutex>
#include <string>

#include "base/status.h"

namespace strata {

class ErrorState {
 public:
  // Remembers s's message as the last error (nothing for ok).
  void record(const Status& s);
  // Records s as the last error and, if it is the first, as the failure. True for the first.
  bool fail(const Status& s);
  std::string lastError();
  // The first failure, or ok.
  Status failure();

 private:
  std::mutex mutex_;
  std::string lastError_;
  Status failure_;
};

}  // namespace strata
