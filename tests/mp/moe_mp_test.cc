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
  expectKilledRankNamed(kWorker, 4, /*victim=*/1, {"kill-loop"});
}

}  // namespace
}  // namespace strata::mptest
