// The flag path between processes (shared memory, the TCP bootstrap): small windowed calls post
// and wait on flags in each other's control segments. Every flag collective in every dtype, in
// and out of place, checked exactly; and a rank SIGKILLed in a loop of flag calls makes every
// survivor fail with strataRemoteError naming it.
#include <gtest/gtest.h>

#include <string>

#include "kill_check.h"
#include "strata/strata.h"
#include "worker_group.h"

namespace strata::mptest {
namespace {

constexpr const char* kWorker = STRATA_FLAG_WORKER;
constexpr std::chrono::seconds kTestBudget{100};

class FlagProcesses : public ::testing::TestWithParam<int> {};

TEST_P(FlagProcesses, EveryFlagCollectiveInEveryDtype) {
  const int nranks = GetParam();
  WorkerGroup group(kWorker, nranks, commIdFor(pickFreePort()), randomSecretHex());
  runExpectingSuccess(group, {}, Clock::now() + kTestBudget);
}

INSTANTIATE_TEST_SUITE_P(Ranks, FlagProcesses, ::testing::Values(2, 4),
                         [](const auto& info) { return "np" + std::to_string(info.param); });

// The timeout is long, so only a detected death (strataRemoteError) can end the survivors' flag
// waits within the limit; each names the killed rank.
TEST(FlagRankKilled, SurvivorsReturnRemoteErrorNamingTheRank) {
  expectKilledRankNamed(kWorker, 3, /*victim=*/1, {"kill-loop"});
}

}  // namespace
}  // namespace strata::mptest
