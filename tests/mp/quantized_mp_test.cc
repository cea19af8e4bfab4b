// The quantised AllGather with ranks as processes (shared memory between processes, the TCP
// bootstrap): quantized_worker.cc checks every element against the documented bound, raw values
// against the dequantised gather, and prequantised gathers, on 1 to 8 ranks.
#include <gtest/gtest.h>

#include <string>

#include "kill_check.h"
#include "worker_group.h"

namespace strata::mptest {
namespace {

constexpr const char* kWorker = STRATA_QUANTIZED_WORKER;
constexpr std::chrono::seconds kTestBudget{100};

class QuantizedAllGatherProcesses : public ::testing::TestWithParam<int> {};

TEST_P(QuantizedAllGatherProcesses, WithinBoundAndRawMatchesDequantised) {
  const int nranks = GetParam();
  WorkerGroup group(kWorker, nranks, commIdFor(pickFreePort()), randomSecretHex());
  runExpectingSuccess(group, {}, Clock::now() + kTestBudget);
}

INSTANTIATE_TEST_SUITE_P(Ranks, QuantizedAllGatherProcesses, ::testing::Values(1, 2, 3, 4, 7, 8),
                         [](const auto& info) { return "np" + std::to_string(info.param); });

}  // namespace
}  // namespace strata::mptest
