// What every wait checks: a deadline, an abort flag, and (through the caller) peer liveness.
#pragma once

#include <atomic>
#include <chrono>

namespace strata {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // timeoutMs <= 0 means no deadline.
  static Deadline afterMs(long timeoutMs) {
    Deadline d;
    d.timeoutMs_ = timeoutMs;
    if (timeoutMs > 0) d.at_ = Clock::now() + std::chrono::milliseconds(timeoutMs);
    return d;
  }
  static Deadline never() { return Deadline{}; }

  bool expired() const { return timeoutMs_ > 0 && Clock::now() >= at_; }
  long timeoutMs() const { return timeoutMs_; }
  Clock::time_point at() const { return at_; }
  bool bounded() const { return timeoutMs_ > 0; }

 private:
  long timeoutMs_ = 0;
  Clock::time_point at_{};
};

// The abort flag a communicator shares with every wait running on its behalf.
using AbortFlag = std::atomic<bool>;

}  // namespace strata
