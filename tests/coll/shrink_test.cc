// strataCommShrink with ranks as threads: the ranks not excluded form a new communicator,
// renumbered densely in old order; bad input is refused naming the value.
#include <string>
#include <thread>
#include <vector>

#include "coll/coll_harness.h"

namespace strata::test {
namespace {

// Ranks of a 4-rank communicator other than `excluded` shrink (with `flags`) and check the new
// communicator: size, rank, and AllReduces of their new rank + 1.
void shrinkFourToThree(int excluded, int flags) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 20000;
  runRanksWith(4, cfg, [&](int rank, strataComm_t comm) {
    if (rank == excluded) return;  // excluded ranks do not call
    strataComm_t shrunk = nullptr;
    const int exclude[1] = {excluded};
    ASSERT_EQ(strataCommShrink(comm, exclude, 1, &shrunk, nullptr, flags), strataSuccess)
        << strataGetLastError(comm);
    int newRank = -1, n = 0;
    ASSERT_EQ(strataCommUserRank(shrunk, &newRank), strataSuccess);
    ASSERT_EQ(strataCommCount(shrunk, &n), strataSuccess);
    EXPECT_EQ(n, 3);
    EXPECT_EQ(newRank, rank < excluded ? rank : rank - 1);
    for (int round = 0; round < 3; ++round) {
      std::vector<float> x(1000, static_cast<float>(newRank + 1));
      ASSERT_EQ(strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, shrunk,
                                nullptr),
                strataSuccess)
          << strataGetLastError(shrunk);
      EXPECT_EQ(x[0], 6.f);
      EXPECT_EQ(x[999], 6.f);
    }
    EXPECT_EQ(strataCommDestroy(shrunk), strataSuccess);
  });
}

TEST(Shrink, FourToThreeByExclusion) { shrinkFourToThree(1, STRATA_SHRINK_DEFAULT); }

TEST(Shrink, FourToThreeExcludingRankZero) { shrinkFourToThree(0, STRATA_SHRINK_DEFAULT); }

// With STRATA_SHRINK_ABORT the parent is aborted first; the new communicator does not care.
TEST(Shrink, AbortFlagAbortsTheParentFirst) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 20000;
  runRanksWith(3, cfg, [&](int rank, strataComm_t comm) {
    if (rank == 2) return;
    strataComm_t shrunk = nullptr;
    const int exclude[1] = {2};
    ASSERT_EQ(strataCommShrink(comm, exclude, 1, &shrunk, nullptr, STRATA_SHRINK_ABORT),
              strataSuccess)
        << strataGetLastError(comm);
    float v = 1.f;
    EXPECT_NE(strataAllReduce(&v, &v, 1, strataFloat32, strataSum, comm, nullptr), strataSuccess)
        << "the parent still works after STRATA_SHRINK_ABORT";
    ASSERT_EQ(strataAllReduce(&v, &v, 1, strataFloat32, strataSum, shrunk, nullptr),
              strataSuccess)
        << strataGetLastError(shrunk);
    EXPECT_EQ(v, 2.f);
    EXPECT_EQ(strataCommDestroy(shrunk), strataSuccess);
  });
}

// Argument checks: each bad input is refused with strataInvalidArgument naming the value, and
// the communicator is still usable afterwards.
TEST(Shrink, BadArgumentsAreRefusedNamingTheValue) {
  strataComm_t comms[1] = {};
  ASSERT_EQ(strataCommInitAll(comms, 1, nullptr), strataSuccess);
  strataComm_t c = comms[0];
  strataComm_t out = nullptr;
  const int zero[1] = {0};
  EXPECT_EQ(strataCommShrink(c, nullptr, 0, nullptr, nullptr, 0), strataInvalidArgument);
  EXPECT_TRUE(mentions(strataGetLastError(c), "newcomm is NULL")) << strataGetLastError(c);
  EXPECT_EQ(strataCommShrink(c, zero, 1, &out, nullptr, 0), strataInvalidArgument);
  EXPECT_TRUE(mentions(strataGetLastError(c), "excluding all 1 ranks")) << strataGetLastError(c);
  EXPECT_EQ(strataCommShrink(c, nullptr, 0, &out, nullptr, 7), strataInvalidArgument);
  EXPECT_TRUE(mentions(strataGetLastError(c), "shrinkFlags 7")) << strataGetLastError(c);
  EXPECT_EQ(strataCommShrink(nullptr, nullptr, 0, &out, nullptr, 0), strataInvalidArgument);
  EXPECT_EQ(strataCommDestroy(c), strataSuccess);

  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 20000;
  runRanksWith(3, cfg, [](int rank, strataComm_t comm) {
    if (rank != 0) return;
    strataComm_t shrunk = nullptr;
    struct Case {
      std::vector<int> list;
      const char* says;
    };
    const Case cases[] = {
        {{5}, "excludeRanks[0] = 5 is outside 0..2"},
        {{-1}, "excludeRanks[0] = -1 is outside 0..2"},
        {{1, 1}, "excludeRanks[1] = 1 is listed twice"},
        {{0}, "excludeRanks[0] = 0 is the calling rank"},
        {{1, 2, 0}, "excludeRanksCount 3 must be 0..2"},
    };
    for (const Case& k : cases) {
      EXPECT_EQ(strataCommShrink(comm, k.list.data(), static_cast<int>(k.list.size()), &shrunk,
                                 nullptr, STRATA_SHRINK_DEFAULT),
                strataInvalidArgument)
          << k.says;
      EXPECT_TRUE(mentions(strataGetLastError(comm), k.says)) << strataGetLastError(comm);
      EXPECT_EQ(shrunk, nullptr);
    }
    EXPECT_EQ(strataCommShrink(comm, nullptr, 1, &shrunk, nullptr, 0), strataInvalidArgument);
    EXPECT_TRUE(mentions(strataGetLastError(comm), "excludeRanks is NULL with count 1"))
        << strataGetLastError(comm);
  });
}

}  // namespace
}  // namespace strata::test
