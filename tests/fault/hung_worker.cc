// One rank of the hung-rank tests (hung_rank_test.cc). Uses the public C API only. Installs its
// own SIGUSR1 handler before init, as an application would, and reports whether it still ran.
// Modes:
//   skip R     after one AllReduce every rank prints "READY rank R"; rank R then skips the next
//              AllReduce and waits for SIGTERM, on which it aborts its communicator and exits 0;
//              the others block in that AllReduce, print what it returned and whether their
//              own SIGUSR1 handler ran ("APP_SIGUSR1 n"), and exit with 10 + its code
//   handler    prints "HANDLER app" when SIGUSR1's handler after init is still the
//              application's, else "HANDLER strata"
// A failed check prints "FAIL rank R: ..." and exits 1.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace {

std::atomic<int> g_appSignals{0};
void appHandler(int) { g_appSignals.fetch_add(1, std::memory_order_relaxed); }

strataComm_t g_comm = nullptr;
int g_rank = -1;

[[noreturn]] void fail(const char* what, strataResult_t r) {
  std::printf("FAIL rank %d: %s returned %d: %s\n", g_rank, what, static_cast<int>(r),
              strataGetLastError(g_comm));
  std::fflush(stdout);
  std::exit(1);
}

void initComm() {
  strataResult_t r = strataCommInitFromEnv(&g_comm, nullptr);
  if (r != strataSuccess) fail("CommInitFromEnv", r);
  strataCommUserRank(g_comm, &g_rank);
}

strataResult_t allReduce() {
  std::vector<float> x(1024, 1.0f);
  return strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, g_comm, nullptr);
}

int runSkip(int skipper) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);  // before any library thread inherits the mask
  initComm();
  if (strataResult_t r = allReduce(); r != strataSuccess) fail("first AllReduce", r);
  std::printf("READY rank %d\n", g_rank);
  std::fflush(stdout);
  if (g_rank == skipper) {
    int sig = 0;
    sigwait(&term, &sig);
    strataCommAbort(g_comm);
    std::printf("ABORTED rank %d\n", g_rank);
    std::fflush(stdout);
    return 0;
  }
  const strataResult_t r = allReduce();
  std::printf("rank %d: AllReduce returned %d: %s\nAPP_SIGUSR1 %d\n", g_rank,
              static_cast<int>(r), strataGetLastError(g_comm), g_appSignals.load());
  std::fflush(stdout);
  strataCommAbort(g_comm);
  return 10 + static_cast<int>(r);
}

int runHandler() {
  initComm();
  struct sigaction now;
  sigaction(SIGUSR1, nullptr, &now);
  const bool app = !(now.sa_flags & SA_SIGINFO) && now.sa_handler == appHandler;
  std::printf("HANDLER %s\n", app ? "app" : "strata");
  std::fflush(stdout);
  strataCommDestroy(g_comm);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGUSR1, appHandler);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "skip" && argc == 3) return runSkip(std::atoi(argv[2]));
  if (mode == "handler") return runHandler();
  std::fprintf(stderr, "usage: %s skip R | handler\n", argv[0]);
  return 2;
}
