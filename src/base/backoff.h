// Waiting politely: spin with pause, then yield, then sleep (capped at 1 ms so an abort is seen
// quickly). Eight ranks on two cores only finish if every wait backs off like this.
#pragma once

#include <sched.h>
#include <time.h>

#include <cstdint>

namespace strata {

class Backoff {
 public:
  void reset() { idle_ = 0; }

  // Called after a poll that made no progress.
  void idle() {
    ++idle_;
    if (idle_ < kSpins) {
      cpuRelax();
    } else if (idle_ < kSpins + kYields) {
      sched_yield();
    } else {
      uint64_t n = idle_ - kSpins - kYields;
      long ns = n < 5 ? (20'000L << n) : kMaxSleepNs;
      if (ns > kMaxSleepNs) ns = kMaxSleepNs;
      timespec ts{0, ns};
      nanosleep(&ts, nullptr);
    }
  }

  // True once the waiter has reached the sleeping stage; cheap checks may run every time but
  // expensive ones (peer liveness) only when this holds.
  bool sleeping() const { return idle_ >= kSpins + kYields; }
  uint64_t idleCount() const { return idle_; }

  static void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

 private:
  static constexpr uint64_t kSpins = 4096;
  static constexpr uint64_t kYields = 1024;
  static constexpr long kMaxSleepNs = 1'000'000;
  uint64_t idle_ = 0;
};

}  // namespace strata
