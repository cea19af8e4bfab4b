// Faults injected into ranks that are processes meeting through the real TCP bootstrap and
// transports: what the survivors return, how they name the lost rank, what is left behind.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "kill_check.h"
#include "worker_group.h"

namespace strata::mptest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kWorker = STRATA_FAULT_WORKER;
constexpr seconds kTestBudget{60};

std::string commIdFor(int port) { return "127.0.0.1:" + std::to_string(port); }

void expectAllSucceeded(const WorkerGroup& group) {
  for (int r = 0; r < group.size(); ++r) {
    EXPECT_TRUE(exitedWith(group.status(r), 0))
        << "rank " << r << " " << describeWaitStatus(group.status(r)) << "\n"
        << group.allOutput();
    EXPECT_NE(group.output(r).find("OK rank " + std::to_string(r)), std::string::npos)
        << group.allOutput();
  }
}

// The pid a worker printed as "CHILD <pid>", or -1.
pid_t childPid(const std::string& output) {
  auto at = output.find("CHILD ");
  return at == std::string::npos ? -1 : static_cast<pid_t>(std::stol(output.substr(at + 6)));
}

// Every descriptor the library opens (bootstrap listener, accepted and client sockets, shared
// memory, the root's event loop) is close-on-exec, as /proc/self/fdinfo shows it.
TEST(Cloexec, EveryDescriptorOpenedByInitIsCloseOnExec) {
  WorkerGroup group(kWorker, 2, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", "30000");
  ASSERT_TRUE(group.startAll({"cloexec"})) << group.error();
  ASSERT_TRUE(group.waitAll(Clock::now() + kTestBudget)) << group.allOutput();
  expectAllSucceeded(group);
  std::printf("%s", group.allOutput().c_str());
}

// Rank 0 hosts the bootstrap root, starts a child that execs and outlives it, and is SIGKILLed.
// The child holds none of rank 0's sockets, so rank 1, waiting in Finalize's barrier at the
// root, sees the connection close and returns strataRemoteError, not strataTimeout at its
// deadline.
TEST(Cloexec, PeerFailsAtOnceWhenAForkingRankIsKilled) {
  WorkerGroup group(kWorker, 2, commIdFor(pickFreePort()), randomSecretHex());
  constexpr milliseconds kTimeout{20000};
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kTimeout.count()));
  ASSERT_TRUE(group.startAll({"fork-exec", "0"})) << group.error();
  ASSERT_TRUE(group.waitForOutput(0, "READY", Clock::now() + kTestBudget)) << group.allOutput();
  const pid_t child = childPid(group.output(0));
  expectSurvivorsFailAfterKill(group, 0, Clock::now() + kTestBudget, kTimeout);
  if (child > 0) ::kill(child, SIGKILL);
  EXPECT_TRUE(exitedWith(group.status(1), 10 + 6 /* strataRemoteError */))
      << "rank 1 did not see rank 0's connections close:\n"
      << group.allOutput();
}

}  // namespace
}  // namespace strata::mptest
