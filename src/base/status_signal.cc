#include "base/status_signal.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace strata {
namespace {

std::atomic<uint64_t> gRequests{0};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "the handler must not take a lock");
struct sigaction gPrevious;

void onStatusSignal(int sig, siginfo_t* info, void* uctx) {
  gRequests.fetch_add(1, std::memory_order_relaxed);
  // Chain to the handler the application had installed (the default action would terminate).
  if (gPrevious.sa_flags & SA_SIGINFO) {
    if (gPrevious.sa_sigaction) gPrevious.sa_sigaction(sig, info, uctx);
  } else if (gPrevious.sa_handler != SIG_DFL && gPrevious.sa_handler != SIG_IGN &&
             gPrevious.sa_handler) {
    gPrevious.sa_handler(sig);
  }
}

}  // namespace

void installStatusSignal() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* v = std::getenv("STRATA_SIGUSR1");
    if (v && std::strcmp(v, "0") == 0) return;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = onStatusSignal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &gPrevious);
  });
}

uint64_t statusRequests() { return gRequests.load(std::memory_order_relaxed); }

}  // namespace strata
