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

// The timeout is long, so only a detected death (strataRemoteError) can end the survivors' waits
// within the limit; each names the killed rank.
TEST(MoeRankKilled, SurvivorsReturnRemoteErrorNamingTheRank) {
  const int nranks = 4;
  const int victim = 1;
  WorkerGroup group(kWorker, nranks, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", "60000");
  ASSERT_TRUE(group.startAll({"kill-loop"})) << group.error();
  expectSurvivorsFailAfterKill(group, victim, Clock::now() + kTestBudget,
                               std::chrono::milliseconds(10000));
  for (int r = 0; r < nranks; ++r) {
    if (r == victim) continue;
    EXPECT_TRUE(exitedWith(group.status(r), 10 + strataRemoteError)) << group.allOutput();
    EXPECT_NE(group.output(r).find("rank " + std::to_string(victim)), std::string::npos)
        << group.output(r);
  }
}

}  // namespace
}  // namespace strata::mptest
