// Every entry point rejects bad input with strataInvalidArgument (or strataInvalidUsage) and a
// message naming what was wrong; nothing crashes or hangs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "strata/strata.h"

namespace {

class ApiArgsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(strataCommInitAll(&comm_, 1, nullptr), strataSuccess); }
  void TearDown() override { EXPECT_EQ(strataCommDestroy(comm_), strataSuccess); }

  // The call failed with `code` and the last error mentions `needle`.
  void expectError(strataResult_t got, strataResult_t code, const std::string& needle) {
    EXPECT_EQ(got, code) << strataGetErrorString(got);
    const std::string msg = strataGetLastError(nullptr);
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: '" << msg << "' lacks '" << needle << "'";
  }

  strataComm_t comm_ = nullptr;
  float buf_[64] = {};
};

TEST_F(ApiArgsTest, LibraryQueries) {
  expectError(strataGetVersion(nullptr), strataInvalidArgument, "version");
  int v = 0;
  EXPECT_EQ(strataGetVersion(&v), strataSuccess);
  EXPECT_EQ(v, STRATA_VERSION_CODE);
  expectError(strataGetUniqueId(nullptr), strataInvalidArgument, "uniqueId");
  EXPECT_STRNE(strataGetErrorString(strataTimeout), "");
  EXPECT_STRNE(strataGetErrorString(static_cast<strataResult_t>(99)), "");
}

TEST_F(ApiArgsTest, InitEntryPoints) {
  strataUniqueId id{};
  strataComm_t c = nullptr;
  expectError(strataCommInitRank(nullptr, 2, id, 0), strataInvalidArgument, "comm");
  expectError(strataCommInitRank(&c, 0, id, 0), strataInvalidArgument, "nranks");
  expectError(strataCommInitRank(&c, 2, id, 2), strataInvalidArgument, "rank 2");
  expectError(strataCommInitRank(&c, 2, id, -1), strataInvalidArgument, "rank -1");
  // An id that was never produced by strataGetUniqueId.
  expectError(strataCommInitRank(&c, 2, id, 0), strataInvalidArgument, "id");
  strataConfig_t bad = STRATA_CONFIG_INITIALIZER;
  bad.magic = 0;
  expectError(strataCommInitRankConfig(&c, 1, id, 0, &bad), strataInvalidArgument, "STRATA_CONFIG_INITIALIZER");
  strataConfig_t neg = STRATA_CONFIG_INITIALIZER;
  neg.timeoutMs = -5;
  expectError(strataCommInitAll(&c, 1, &neg), strataInvalidArgument, "timeoutMs");
  strataConfig_t blk = STRATA_CONFIG_INITIALIZER;
  blk.blocking = 7;
  expectError(strataCommInitAll(&c, 1, &blk), strataInvalidArgument, "blocking");
  strataConfig_t algo = STRATA_CONFIG_INITIALIZER;
  algo.algo = "allreduce:@nosuch";
  expectError(strataCommInitAll(&c, 1, &algo), strataInvalidArgument, "nosuch");
  expectError(strataCommInitAll(nullptr, 2, nullptr), strataInvalidArgument, "comms");
  expectError(strataCommInitAll(&c, 0, nullptr), strataInvalidArgument, "nranks");
  expectError(strataCommInitFromEnv(nullptr, nullptr), strataInvalidArgument, "comm");
}

TEST_F(ApiArgsTest, CommunicatorHandles) {
  int x = 0;
  strataResult_t st;
  expectError(strataCommCount(nullptr, &x), strataInvalidArgument, "comm is NULL");
  expectError(strataCommCount(comm_, nullptr), strataInvalidArgument, "count");
  expectError(strataCommUserRank(nullptr, &x), strataInvalidArgument, "comm is NULL");
  expectError(strataCommUserRank(comm_, nullptr), strataInvalidArgument, "rank");
  expectError(strataCommGetAsyncError(nullptr, &st), strataInvalidArgument, "comm");
  expectError(strataCommGetAsyncError(comm_, nullptr), strataInvalidArgument, "asyncError");
  expectError(strataCommFinalize(nullptr), strataInvalidArgument, "comm");
  expectError(strataCommDestroy(nullptr), strataInvalidArgument, "comm");
  expectError(strataCommAbort(nullptr), strataInvalidArgument, "comm");
  strataComm_t sub = nullptr;
  expectError(strataCommSplit(nullptr, 0, 0, &sub, nullptr), strataInvalidArgument, "comm");
  expectError(strataCommSplit(comm_, 0, 0, nullptr, nullptr), strataInvalidArgument, "newcomm");
  expectError(strataCommSplit(comm_, -7, 0, &sub, nullptr), strataInvalidArgument, "color");
  // A handle that is not a communicator at all.
  std::vector<char> garbage(256, 0x5a);
  expectError(strataCommCount(reinterpret_cast<strataComm_t>(garbage.data()), &x), strataInvalidArgument,
              "not a valid communicator");
}

TEST_F(ApiArgsTest, Streams) {
  expectError(strataStreamCreate(nullptr), strataInvalidArgument, "stream");
  expectError(strataStreamDestroy(nullptr), strataInvalidArgument, "stream");
  expectError(strataStreamSynchronize(nullptr), strataInvalidArgument, "stream");
  expectError(strataStreamQuery(nullptr), strataInvalidArgument, "stream");
  std::vector<char> garbage(256, 0x11);
  auto bogus = reinterpret_cast<strataStream_t>(garbage.data());
  expectError(strataStreamSynchronize(bogus), strataInvalidArgument, "not a valid stream");
  expectError(strataAllReduce(buf_, buf_, 1, strataFloat32, strataSum, comm_, bogus), strataInvalidArgument,
              "not a valid stream");
}

TEST_F(ApiArgsTest, Collectives) {
  const auto badType = static_cast<strataDataType_t>(12);
  const auto badOp = static_cast<strataRedOp_t>(5);
  expectError(strataAllReduce(buf_, buf_, 1, strataFloat32, strataSum, nullptr, nullptr), strataInvalidArgument, "comm");
  expectError(strataAllReduce(nullptr, buf_, 1, strataFloat32, strataSum, comm_, nullptr), strataInvalidArgument, "sendbuff");
  expectError(strataAllReduce(buf_, nullptr, 1, strataFloat32, strataSum, comm_, nullptr), strataInvalidArgument, "recvbuff");
  expectError(strataAllReduce(buf_, buf_, 1, badType, strataSum, comm_, nullptr), strataInvalidArgument, "datatype");
  expectError(strataAllReduce(buf_, buf_, 1, strataFloat32, badOp, comm_, nullptr), strataInvalidArgument, "op");
  expectError(strataAllReduce(buf_, buf_, SIZE_MAX / 2, strataFloat32, strataSum, comm_, nullptr),
              strataInvalidArgument, "too large");
  // count 0 with NULL buffers is a valid no-op, as in NCCL.
  EXPECT_EQ(strataAllReduce(nullptr, nullptr, 0, strataFloat32, strataSum, comm_, nullptr), strataSuccess);

  expectError(strataBroadcast(buf_, buf_, 1, strataFloat32, 1, comm_, nullptr), strataInvalidArgument, "root 1");
  expectError(strataBroadcast(buf_, nullptr, 1, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "recvbuff");
  expectError(strataBcast(buf_, 1, strataFloat32, 1, comm_, nullptr), strataInvalidArgument, "strataBcast: root 1");
  expectError(strataBcast(nullptr, 1, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "buff (on the root)");
  expectError(strataBcast(buf_, 1, badType, 0, comm_, nullptr), strataInvalidArgument, "datatype");
  expectError(strataReduce(buf_, buf_, 1, strataFloat32, strataSum, -1, comm_, nullptr), strataInvalidArgument, "root -1");
  expectError(strataReduce(buf_, buf_, 1, strataFloat32, badOp, 0, comm_, nullptr), strataInvalidArgument, "op");
  expectError(strataGather(buf_, buf_ + 8, 1, strataFloat32, 1, comm_, nullptr), strataInvalidArgument, "root 1");
  expectError(strataGather(buf_, buf_ + 8, 1, strataFloat32, -1, comm_, nullptr), strataInvalidArgument, "root -1");
  expectError(strataGather(nullptr, buf_ + 8, 1, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "sendbuff");
  expectError(strataGather(buf_, nullptr, 1, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "recvbuff (on the root)");
  expectError(strataGather(buf_, buf_, SIZE_MAX / 2, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "too large");
  expectError(strataGather(buf_, buf_, 1, badType, 0, comm_, nullptr), strataInvalidArgument, "datatype");
  expectError(strataGather(buf_ + 1, buf_, 2, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "overlaps");
  expectError(strataScatter(buf_, buf_ + 8, 1, strataFloat32, 1, comm_, nullptr), strataInvalidArgument, "root 1");
  expectError(strataScatter(buf_, nullptr, 1, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "recvbuff");
  expectError(strataScatter(nullptr, buf_ + 8, 1, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "sendbuff (on the root)");
  expectError(strataScatter(buf_, buf_, SIZE_MAX / 2, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "too large");
  expectError(strataScatter(buf_, buf_ + 1, 2, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "overlaps");
  // In place on the root (its own block) and count 0 with NULL buffers are valid.
  EXPECT_EQ(strataGather(buf_, buf_, 1, strataFloat32, 0, comm_, nullptr), strataSuccess);
  EXPECT_EQ(strataScatter(buf_, buf_, 1, strataFloat32, 0, comm_, nullptr), strataSuccess);
  EXPECT_EQ(strataGather(nullptr, nullptr, 0, strataFloat32, 0, comm_, nullptr), strataSuccess);
  EXPECT_EQ(strataScatter(nullptr, nullptr, 0, strataFloat32, 0, comm_, nullptr), strataSuccess);
  expectError(strataAllGather(nullptr, buf_, 1, strataFloat32, comm_, nullptr), strataInvalidArgument, "sendbuff");
  expectError(strataReduceScatter(buf_, nullptr, 1, strataFloat32, strataSum, comm_, nullptr), strataInvalidArgument, "recvbuff");
  expectError(strataAllToAll(buf_, buf_ + 1, 4, strataFloat32, comm_, nullptr), strataInvalidArgument, "overlap");

  size_t counts[1] = {2}, displs[1] = {0};
  expectError(strataAllGatherv(buf_, 2, buf_ + 8, nullptr, displs, strataFloat32, comm_, nullptr), strataInvalidArgument, "recvcounts");
  expectError(strataAllGatherv(buf_, 2, buf_ + 8, counts, nullptr, strataFloat32, comm_, nullptr), strataInvalidArgument, "rdispls");
  expectError(strataAllGatherv(buf_, 3, buf_ + 8, counts, displs, strataFloat32, comm_, nullptr), strataInvalidArgument, "recvcounts[0]");
  expectError(strataAllToAllv(buf_, nullptr, displs, buf_ + 8, counts, displs, strataFloat32, comm_, nullptr), strataInvalidArgument, "sendcounts");
  expectError(strataAllToAllv(buf_, counts, displs, buf_ + 8, counts, nullptr, strataFloat32, comm_, nullptr), strataInvalidArgument, "rdispls");

  expectError(strataSend(buf_, 1, strataFloat32, 1, comm_, nullptr), strataInvalidArgument, "peer 1");
  expectError(strataSend(nullptr, 1, strataFloat32, 0, comm_, nullptr), strataInvalidArgument, "sendbuff");
  expectError(strataRecv(buf_, 1, strataFloat32, -2, comm_, nullptr), strataInvalidArgument, "peer -2");
  expectError(strataRecv(buf_, 1, badType, 0, comm_, nullptr), strataInvalidArgument, "datatype");
  expectError(strataBarrier(nullptr, nullptr), strataInvalidArgument, "comm");
  EXPECT_EQ(strataBarrier(comm_, nullptr), strataSuccess);
}

TEST_F(ApiArgsTest, GroupMisuse) {
  expectError(strataGroupEnd(), strataInvalidUsage, "without strataGroupStart");
  EXPECT_EQ(strataGroupStart(), strataSuccess);
  EXPECT_EQ(strataGroupEnd(), strataSuccess);
}

TEST_F(ApiArgsTest, ErrorMessageIsKeptPerCommunicator) {
  strataAllReduce(nullptr, buf_, 1, strataFloat32, strataSum, comm_, nullptr);
  EXPECT_NE(std::string(strataGetLastError(comm_)).find("sendbuff"), std::string::npos);
}

}  // namespace
