// Absurd counts, displacement sums that wrap and absurd rank counts fail at once with
// strataInvalidArgument naming the argument, before anything is sized or copied from them.
#include <climits>
#include <cstdint>
#include <string>

#include "coll/coll_harness.h"

namespace strata::test {
namespace {

constexpr size_t kTwoTo40 = size_t{1} << 40;

bool says(strataComm_t comm, const std::string& needle) {
  return mentions(strataGetLastError(comm), needle);
}

TEST(CountLimitsTest, CountOf2To40ElementsIsRejectedBeforeAnyCopy) {
  // The buffers are far smaller than the counts claim: a call that got past its checks would
  // fault in its first copy.
  runRanks(2, "", [](int, strataComm_t comm) {
    float x[4] = {};
    EXPECT_EQ(strataAllReduce(x, x, kTwoTo40, strataFloat32, strataSum, comm, nullptr),
              strataInvalidArgument);
    EXPECT_TRUE(says(comm, "strataAllReduce: count 1099511627776 is too large")) << strataGetLastError(comm);
    EXPECT_EQ(strataAllReduce(x, x, kTwoTo40, strataInt8, strataSum, comm, nullptr),
              strataInvalidArgument);
    EXPECT_EQ(strataBroadcast(x, x, kTwoTo40, strataFloat64, 0, comm, nullptr),
              strataInvalidArgument);
    EXPECT_EQ(strataReduceScatter(x, x, kTwoTo40, strataFloat32, strataSum, comm, nullptr),
              strataInvalidArgument);
    EXPECT_TRUE(says(comm, "recvcount 1099511627776 is too large")) << strataGetLastError(comm);
    EXPECT_EQ(strataAllGather(x, x, kTwoTo40, strataFloat32, comm, nullptr), strataInvalidArgument);
    EXPECT_EQ(strataAllToAll(x, x, kTwoTo40, strataFloat32, comm, nullptr), strataInvalidArgument);
    EXPECT_EQ(strataSend(x, kTwoTo40, strataFloat32, 0, comm, nullptr), strataInvalidArgument);
    EXPECT_EQ(strataAllGatherQuantized(x, x, kTwoTo40, strataFloat32, strataQuantInt8, 64, comm,
                                       nullptr),
              strataInvalidArgument);
    // The communicator is still usable: nothing was started.
    float one = 1.f;
    EXPECT_EQ(strataAllReduce(&one, &one, 1, strataFloat32, strataSum, comm, nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    EXPECT_EQ(one, 2.f);
  });
}

TEST(CountLimitsTest, AllGathervCountsPlusDisplacementsThatWrapAreRejected) {
  runRanks(2, "", [](int rank, strataComm_t comm) {
    float x[4] = {}, y[8] = {};
    // The other rank's count plus displacement wraps past SIZE_MAX to a small number.
    size_t counts[2], displs[2];
    counts[rank] = 4;
    displs[rank] = 0;
    counts[1 - rank] = 8;
    displs[1 - rank] = SIZE_MAX - 3;
    EXPECT_EQ(strataAllGatherv(x, 4, y, counts, displs, strataFloat32, comm, nullptr),
              strataInvalidArgument);
    EXPECT_TRUE(says(comm, "rdispls[" + std::to_string(1 - rank) + "]")) << strataGetLastError(comm);
    // Each count in range, their sum past what one buffer may span.
    const size_t half = (size_t{1} << 38) + 1;  // int8: 2 x half > 2^39 bytes
    counts[0] = counts[1] = half;
    displs[0] = 0;
    displs[1] = half;
    EXPECT_EQ(strataAllGatherv(x, half, y, counts, displs, strataInt8, comm, nullptr),
              strataInvalidArgument);
    EXPECT_TRUE(says(comm, "+ rdispls[1]") || says(comm, "the sum of recvcounts"))
        << strataGetLastError(comm);
  });
}

TEST(CountLimitsTest, AllToAllvSumsThatWrapAreRejected) {
  runRanks(2, "", [](int, strataComm_t comm) {
    float x[8] = {}, y[8] = {};
    size_t sc[2] = {4, SIZE_MAX / 2 + 2}, sd[2] = {0, SIZE_MAX / 2 + 2};  // sum wraps to 2
    size_t rc[2] = {4, 4}, rd[2] = {0, 4};
    EXPECT_EQ(strataAllToAllv(x, sc, sd, y, rc, rd, strataFloat32, comm, nullptr),
              strataInvalidArgument);
    EXPECT_TRUE(says(comm, "strataAllToAllv: sendcounts[1]")) << strataGetLastError(comm);
    size_t rc2[2] = {SIZE_MAX, 4}, rd2[2] = {1, 4};  // SIZE_MAX + 1 wraps to 0
    EXPECT_EQ(strataAllToAllv(x, rc, rd, y, rc2, rd2, strataFloat32, comm, nullptr),
              strataInvalidArgument);
    EXPECT_TRUE(says(comm, "strataAllToAllv: recvcounts[0]")) << strataGetLastError(comm);
  });
}

TEST(CountLimitsTest, NranksIntMaxFailsAtOnceNamingTheMaximum) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess) << strataGetLastError(nullptr);
  strataComm_t comm = nullptr;
  EXPECT_EQ(strataCommInitRank(&comm, INT_MAX, id, 0), strataInvalidArgument);
  const std::string msg = strataGetLastError(nullptr);
  EXPECT_NE(msg.find("nranks is 2147483647"), std::string::npos) << msg;
  EXPECT_NE(msg.find("65536"), std::string::npos) << msg;
  EXPECT_EQ(comm, nullptr);
  // strataCommInitAll would otherwise write INT_MAX handles into a one-element array.
  strataComm_t one = nullptr;
  EXPECT_EQ(strataCommInitAll(&one, INT_MAX, nullptr), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("nranks is 2147483647"),
            std::string::npos)
      << strataGetLastError(nullptr);
}

}  // namespace
}  // namespace strata::test
