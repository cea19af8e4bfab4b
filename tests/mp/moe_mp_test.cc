// MoE dispatch and combine with ranks as processes (shared memory, the TCP bootstrap):
// identity experts return every token times the sum of its weights, and a rank SIGKILLed in the
// middle of a dispatch loop makes every survivor fail with strataRemoteError naming it.
#include <gtest/gtest.h>

#include <string>

#include "kill_check.h"
#include "strata/strata.h"
#include "worker_group.h"

namespace strata::mptest {
namespace {

constexpr const char* kWorker = STRATA_MOE_WORKER;
constexpr std::chrono::seconds kTestBudget{100};

class MoeProcesses : public ::testing::TestWithParam<int> {};

TEST_P(MoeProcesses, IdentityExpertsRoundTrip) {
  const int nranks = GetParam();
  WorkerGroup group(kWorker, nranks, commIdFor(pickFreePort()), randomSecretHex());
  runExpectingSuccess(group, {}, Clock::now() + kTestBudget);
}

INSTANTIATE_TEST_SUITE_P(Ranks, MoeProcesses, ::testing::Values(2, 4),
                         [](const auto& info) { return "np" + std::to_string(info.param); });

// Direct puts into the peers' windows and the FIFO path give bit-identical outputs between
// processes, pipelined and not, int8 and not.
TEST(MoeProcessesDirect, DirectPutsAndFifoGiveIdenticalResults) {
  WorkerGroup group(kWorker, 2, commIdFor(pickFreePort()), randomSecretHex());
  runExpectingSuccess(group, {"compare"}, Clock::now() + kTestBudget);
}

// A buffer with direct puts maps this rank's receive slots and every peer's; destroying it
// unmaps them (/proc/self/maps).
TEST(MoeProcessesDirect, DestroyUnmapsTheWindows) {
  WorkerGroup group(kWorker, 4, commIdFor(pickFreePort()), randomSecretHex());
  runExpectingSuccess(group, {"maps"}, Clock::now() + kTestBudget);
}

// The timeout is long, so only a detected death (strataRemoteError) can end the survivors' waits
// within the limit; each names the killed rank. With direct puts (the windows mapped) and
// through the FIFOs (the worker checks the path before it is ready).
class MoeRankKilled : public ::testing::TestWithParam<bool> {};

TEST_P(MoeRankKilled, SurvivorsReturnRemoteErrorNamingTheRank) {
  expectKilledRankNamed(kWorker, 4, /*victim=*/1, {"kill-loop", GetParam() ? "direct" : "fifo"});
}

INSTANTIATE_TEST_SUITE_P(Paths, MoeRankKilled, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "direct" : "fifo"; });

}  // namespace
}  // namespace strata::mptest
