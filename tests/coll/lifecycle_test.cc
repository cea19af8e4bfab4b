// Communicator life cycle: TCP init, nonblocking init, split, finalize, abort, timeouts.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "coll/coll_harness.h"

namespace strata::test {
namespace {

using Clock = std::chrono::steady_clock;

long msSince(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// Ranks as threads through the real TCP bootstrap (strataGetUniqueId + InitRank).
TEST(LifecycleTest, InitRankOverTcpThenAllReduce) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess) << strataGetLastError(nullptr);
  const int n = 3;
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      strataComm_t comm = nullptr;
      ASSERT_EQ(strataCommInitRank(&comm, n, id, r), strataSuccess) << strataGetLastError(nullptr);
      int count = 0, rank = -1;
      EXPECT_EQ(strataCommCount(comm, &count), strataSuccess);
      EXPECT_EQ(strataCommUserRank(comm, &rank), strataSuccess);
      EXPECT_EQ(count, n);
      EXPECT_EQ(rank, r);
      std::vector<int64_t> v(1001, r + 1);
      ASSERT_EQ(strataAllReduce(v.data(), v.data(), v.size(), strataInt64, strataSum, comm, nullptr), strataSuccess);
      EXPECT_EQ(v, std::vector<int64_t>(1001, 6));
      EXPECT_EQ(strataCommFinalize(comm), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(strataCommDestroy(comm), strataSuccess);
    });
  }
  for (auto& t : threads) t.join();
}

TEST(LifecycleTest, NonblockingInitReportsInProgressThenSuccess) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  const int n = 2;
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
      cfg.blocking = 0;
      strataComm_t comm = nullptr;
      ASSERT_EQ(strataCommInitRankConfig(&comm, n, id, r, &cfg), strataInProgress);
      ASSERT_NE(comm, nullptr);
      strataResult_t state = strataInProgress;
      auto start = Clock::now();
      while (state == strataInProgress && msSince(start) < 20000) {
        ASSERT_EQ(strataCommGetAsyncError(comm, &state), strataSuccess);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      ASSERT_EQ(state, strataSuccess) << strataGetLastError(comm);
      float x = 1.f;
      ASSERT_EQ(strataAllReduce(&x, &x, 1, strataFloat32, strataSum, comm, nullptr), strataSuccess);
      EXPECT_EQ(x, 2.f);
      EXPECT_EQ(strataCommDestroy(comm), strataSuccess);
    });
  }
  for (auto& t : threads) t.join();
}

TEST(LifecycleTest, SplitByColorAndKey) {
  const int n = 6;
  runRanks(n, "", [&](int rank, strataComm_t comm) {
    // Evens and odds; key reverses the order; rank 5 opts out.
    const int color = rank == 5 ? STRATA_SPLIT_NOCOLOR : rank % 2;
    strataComm_t sub = nullptr;
    ASSERT_EQ(strataCommSplit(comm, color, -rank, &sub, nullptr), strataSuccess) << strataGetLastError(comm);
    if (rank == 5) {
      EXPECT_EQ(sub, nullptr);
      return;
    }
    ASSERT_NE(sub, nullptr);
    int subRank = -1, subCount = 0;
    strataCommUserRank(sub, &subRank);
    strataCommCount(sub, &subCount);
    const int expectCount = rank % 2 == 0 ? 3 : 2;  // {0,2,4} and {1,3}
    EXPECT_EQ(subCount, expectCount);
    // Keys are -rank, so the highest parent rank comes first.
    const int expectRank = rank % 2 == 0 ? (4 - rank) / 2 : (3 - rank) / 2;
    EXPECT_EQ(subRank, expectRank);
    int v = rank;
    ASSERT_EQ(strataAllReduce(&v, &v, 1, strataInt32, strataSum, sub, nullptr), strataSuccess);
    EXPECT_EQ(v, rank % 2 == 0 ? 6 : 4);
    EXPECT_EQ(strataCommFinalize(sub), strataSuccess);
    EXPECT_EQ(strataCommDestroy(sub), strataSuccess);
  });
}

TEST(LifecycleTest, ReceiveWithoutSenderTimesOutNamingThePeer) {
  std::vector<strataComm_t> comms(2);
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 300;
  ASSERT_EQ(strataCommInitAll(comms.data(), 2, &cfg), strataSuccess);
  float x = 0;
  auto start = Clock::now();
  EXPECT_EQ(strataRecv(&x, 1, strataFloat32, 1, comms[0], nullptr), strataTimeout);
  EXPECT_LT(msSince(start), 5000);
  const std::string msg = strataGetLastError(comms[0]);
  EXPECT_NE(msg.find("rank 1"), std::string::npos) << msg;
  // The failed communicator refuses further work with a message instead of hanging.
  EXPECT_EQ(strataAllReduce(&x, &x, 1, strataFloat32, strataSum, comms[0], nullptr), strataInvalidUsage);
  for (auto c : comms) EXPECT_EQ(strataCommAbort(c), strataSuccess);
}

// The wait has no deadline, so only the abort can end it: the check is that it ends, with
// strataRemoteError saying so. The bound only keeps a broken abort from hanging the suite.
TEST(LifecycleTest, AbortFromAnotherThreadEndsAWaitThatHasNoDeadline) {
  std::vector<strataComm_t> comms(2);
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 0;  // no deadline: only the abort can end the wait
  ASSERT_EQ(strataCommInitAll(comms.data(), 2, &cfg), strataSuccess);
  std::promise<strataResult_t> result;
  std::future<strataResult_t> done = result.get_future();
  std::thread waiter([&] {
    float x = 0;
    result.set_value(strataRecv(&x, 1, strataFloat32, 1, comms[0], nullptr));
  });
  EXPECT_EQ(done.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "the receive returned before anything was sent or aborted";
  EXPECT_EQ(strataCommAbort(comms[0]), strataSuccess);
  if (done.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    waiter.detach();
    FAIL() << "strataCommAbort did not end the receive";
  }
  waiter.join();
  EXPECT_EQ(done.get(), strataRemoteError);  // comms[0] is freed by the abort: no message to read
  EXPECT_EQ(strataCommAbort(comms[1]), strataSuccess);
}

TEST(LifecycleTest, PeerAbortMakesOthersFailWithRemoteError) {
  std::vector<strataComm_t> comms(3);
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 0;
  ASSERT_EQ(strataCommInitAll(comms.data(), 3, &cfg), strataSuccess);
  std::vector<std::thread> waiters;
  for (int r = 1; r < 3; ++r) {
    waiters.emplace_back([&, r] {
      std::vector<float> v(1 << 16, 1.f);
      EXPECT_EQ(strataAllReduce(v.data(), v.data(), v.size(), strataFloat32, strataSum,
                                comms[static_cast<size_t>(r)], nullptr),
                strataRemoteError);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(strataCommAbort(comms[0]), strataSuccess);
  for (auto& t : waiters) t.join();
  for (int r = 1; r < 3; ++r) EXPECT_EQ(strataCommAbort(comms[static_cast<size_t>(r)]), strataSuccess);
}

}  // namespace
}  // namespace strata::test
