// Ranks that disagree on their calls fail with strataInvalidUsage naming both calls, instead of
// consuming each other's data: every chunk carries its call's sequence number and kind.
#include <string>

#include "coll/mismatch_harness.h"

namespace strata::test {
namespace {

// Each rank names itself the root: both Broadcasts only send, so neither can tell yet. The
// stale message is then refused by the next call, which used to consume it (an AllReduce of ones
// returned 101 and 102 instead of 2).
TEST(CallMismatchTest, BroadcastsWithDifferentRootsAreRefusedNotConsumed) {
  runRanksWith(2, mismatchConfig(), [](int rank, strataComm_t comm) {
    float b[4] = {100.f + static_cast<float>(rank), 0, 0, 0};
    (void)strataBroadcast(b, b, 4, strataFloat32, /*root=*/rank, comm, nullptr);
    float x[4] = {1, 1, 1, 1};
    const strataResult_t r = strataAllReduce(x, x, 4, strataFloat32, strataSum, comm, nullptr);
    const std::string msg = strataGetLastError(comm);
    ASSERT_NE(r, strataSuccess) << "rank " << rank << " consumed another call's data: x[0] = "
                                << x[0];
    // This rank found the stale message itself, or the peer that did aborted first.
    if (r == strataInvalidUsage) {
      EXPECT_TRUE(mentions(msg, "rank " + std::to_string(1 - rank) + " sent call #1 Broadcast"))
          << msg;
      EXPECT_TRUE(mentions(msg, "expects call #2 AllReduce")) << msg;
    } else {
      EXPECT_EQ(r, strataRemoteError) << msg;
    }
  });
}

// Rank 0 in AllReduce, rank 1 in Broadcast from rank 1: rank 0 refuses the Broadcast's message;
// rank 1's Broadcast only sends, and its next call fails.
TEST(CallMismatchTest, AllReduceAgainstBroadcastFailsOnBothRanks) {
  runRanksWith(2, mismatchConfig(), [](int rank, strataComm_t comm) {
    float x[4] = {1, 1, 1, 1};
    if (rank == 0) {
      const strataResult_t r = strataAllReduce(x, x, 4, strataFloat32, strataSum, comm, nullptr);
      const std::string msg = strataGetLastError(comm);
      EXPECT_EQ(r, strataInvalidUsage) << msg;
      EXPECT_TRUE(mentions(msg, "rank 1 sent call #1 Broadcast, this rank (rank 0) expects call "
                                "#1 AllReduce"))
          << msg;
      return;
    }
    const strataResult_t b = strataBroadcast(x, x, 4, strataFloat32, 1, comm, nullptr);
    const strataResult_t r =
        b == strataSuccess ? strataAllReduce(x, x, 4, strataFloat32, strataSum, comm, nullptr) : b;
    EXPECT_TRUE(r == strataInvalidUsage || r == strataRemoteError)
        << strataGetErrorString(r) << ": " << strataGetLastError(comm);
  });
}

// The receiving side of a mismatch: rank 1 receives a Broadcast from rank 0 while rank 0 runs an
// AllReduce; rank 1 refuses it, and rank 0, which waits for rank 1's AllReduce data, learns of
// the failure.
TEST(CallMismatchTest, BroadcastReceiverRefusesAnAllReduceMessage) {
  runRanksWith(2, mismatchConfig(), [](int rank, strataComm_t comm) {
    float x[4] = {1, 1, 1, 1};
    const strataResult_t r =
        rank == 0 ? strataAllReduce(x, x, 4, strataFloat32, strataSum, comm, nullptr)
                  : strataBroadcast(x, x, 4, strataFloat32, 0, comm, nullptr);
    const std::string msg = strataGetLastError(comm);
    if (rank == 1) {
      EXPECT_EQ(r, strataInvalidUsage) << msg;
      EXPECT_TRUE(mentions(msg, "rank 0 sent call #1 AllReduce, this rank (rank 1) expects call "
                                "#1 Broadcast"))
          << msg;
    } else {
      EXPECT_TRUE(r == strataInvalidUsage || r == strataRemoteError) << msg;
    }
  });
}

// Matching calls still agree after Send/Recv, which only some ranks make: they do not advance
// the sequence number.
TEST(CallMismatchTest, SendRecvBetweenTwoRanksKeepsEveryRankInStep) {
  runRanksWith(3, mismatchConfig(), [](int rank, strataComm_t comm) {
    sendRecvThenAllReduce(rank, comm, 1);
  });
}

}  // namespace
}  // namespace strata::test
