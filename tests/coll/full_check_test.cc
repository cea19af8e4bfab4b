// STRATA_CHECK=1: ranks compare each call's whole signature before its data moves. Every rank of
// a call the ranks disagree on returns strataInvalidUsage naming both ranks and both calls, and
// the communicator stays usable.
#include <cstdlib>
#include <string>
#include <vector>

#include "coll/mismatch_harness.h"

namespace strata::test {
namespace {

// Communicators made with STRATA_CHECK=1 (read at init), on `transport` ("" for the default).
std::vector<strataComm_t> checkedComms(int nranks, const char* transport) {
  const strataConfig_t cfg = mismatchConfig(transport[0] ? transport : nullptr);
  std::vector<strataComm_t> comms(static_cast<size_t>(nranks));
  ::setenv("STRATA_CHECK", "1", 1);
  const strataResult_t r = strataCommInitAll(comms.data(), nranks, &cfg);
  ::unsetenv("STRATA_CHECK");
  EXPECT_EQ(r, strataSuccess) << strataGetLastError(nullptr);
  if (r != strataSuccess) comms.clear();
  return comms;
}

// Runs body on one thread per rank of checked communicators, then destroys them.
void runChecked(int nranks, const char* transport,
                const std::function<void(int rank, strataComm_t comm)>& body) {
  ::setenv("STRATA_CHECK", "1", 1);
  runRanksWith(nranks, mismatchConfig(transport[0] ? transport : nullptr), body);
  ::unsetenv("STRATA_CHECK");
}

// After a refused call, the ranks agree again: an AllReduce of ones gives nranks.
void expectUsable(strataComm_t comm, int nranks) {
  std::vector<float> x(64, 1.f);
  ASSERT_EQ(strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, comm, nullptr),
            strataSuccess)
      << strataGetLastError(comm);
  EXPECT_EQ(x[0], static_cast<float>(nranks));
  EXPECT_EQ(x[63], static_cast<float>(nranks));
}

class FullCheck : public ::testing::TestWithParam<const char*> {};

TEST_P(FullCheck, CountMismatchIsRefusedOnBothRanks) {
  runChecked(2, GetParam(), [](int rank, strataComm_t comm) {
    std::vector<float> x(1024, 1.f);
    const size_t count = rank == 0 ? 1024 : 512;
    const strataResult_t r =
        strataAllReduce(x.data(), x.data(), count, strataFloat32, strataSum, comm, nullptr);
    const std::string msg = strataGetLastError(comm);
    EXPECT_EQ(r, strataInvalidUsage) << msg;
    const std::string a = "AllReduce(count 1024, float, sum) #1";
    const std::string b = "AllReduce(count 512, float, sum) #1";
    EXPECT_TRUE(mentions(msg, rank == 0 ? "rank 0 called " + a + " but rank 1 called " + b
                                        : "rank 1 called " + b + " but rank 0 called " + a))
        << msg;
    EXPECT_EQ(x[0], 1.f) << "data moved although the call was refused";
    expectUsable(comm, 2);
  });
}

TEST_P(FullCheck, DtypeMismatchIsRefusedOnBothRanks) {
  runChecked(2, GetParam(), [](int rank, strataComm_t comm) {
    std::vector<int32_t> x(256, 1);
    const strataDataType_t t = rank == 0 ? strataInt32 : strataFloat32;
    const strataResult_t r = strataAllReduce(x.data(), x.data(), 256, t, strataSum, comm, nullptr);
    const std::string msg = strataGetLastError(comm);
    EXPECT_EQ(r, strataInvalidUsage) << msg;
    const std::string mine = rank == 0 ? "int32" : "float";
    const std::string theirs = rank == 0 ? "float" : "int32";
    EXPECT_TRUE(mentions(msg, "rank " + std::to_string(rank) + " called AllReduce(count 256, " +
                                  mine + ", sum) #1 but rank " + std::to_string(1 - rank) +
                                  " called AllReduce(count 256, " + theirs + ", sum) #1"))
        << msg;
    expectUsable(comm, 2);
  });
}

TEST_P(FullCheck, OpMismatchIsRefusedOnEveryRank) {
  // Only rank 2 differs: ranks 0 and 1 agree with each other but not with it, and still refuse.
  runChecked(3, GetParam(), [](int rank, strataComm_t comm) {
    std::vector<float> x(16, 1.f);
    const strataRedOp_t op = rank == 2 ? strataMax : strataSum;
    const strataResult_t r =
        strataAllReduce(x.data(), x.data(), 16, strataFloat32, op, comm, nullptr);
    const std::string msg = strataGetLastError(comm);
    EXPECT_EQ(r, strataInvalidUsage) << msg;
    if (rank == 2) {
      EXPECT_TRUE(mentions(msg, "rank 2 called AllReduce(count 16, float, max) #1 but rank 0 "
                                "called AllReduce(count 16, float, sum) #1"))
          << msg;
    } else {
      EXPECT_TRUE(mentions(msg, "rank " + std::to_string(rank) +
                                    " called AllReduce(count 16, float, sum) #1 but rank 2 "
                                    "called AllReduce(count 16, float, max) #1"))
          << msg;
    }
    expectUsable(comm, 3);
  });
}

// Each rank names itself the root: without the check the Broadcasts only send and succeed.
TEST_P(FullCheck, RootMismatchIsRefusedOnEveryRank) {
  runChecked(3, GetParam(), [](int rank, strataComm_t comm) {
    std::vector<float> b(8, static_cast<float>(100 + rank));
    const strataResult_t r =
        strataBroadcast(b.data(), b.data(), 8, strataFloat32, rank, comm, nullptr);
    const std::string msg = strataGetLastError(comm);
    EXPECT_EQ(r, strataInvalidUsage) << msg;
    const int peer = (rank + 1) % 3;
    EXPECT_TRUE(mentions(msg, "rank " + std::to_string(rank) +
                                  " called Broadcast(count 8, float, root " +
                                  std::to_string(rank) + ") #1 but rank " + std::to_string(peer) +
                                  " called Broadcast(count 8, float, root " +
                                  std::to_string(peer) + ") #1"))
        << msg;
    EXPECT_EQ(b[0], static_cast<float>(100 + rank));
    expectUsable(comm, 3);
  });
}

// One rank in Barrier, the other in AllReduce: both name the two calls.
TEST_P(FullCheck, DifferentCollectivesAreRefused) {
  runChecked(2, GetParam(), [](int rank, strataComm_t comm) {
    std::vector<float> x(8, 1.f);
    if (rank == 0) {
      ASSERT_EQ(strataBarrier(comm, nullptr), strataInvalidUsage) << strataGetLastError(comm);
      EXPECT_TRUE(mentions(strataGetLastError(comm),
                           "rank 0 called Barrier() #1 but rank 1 called AllReduce(count 8, "
                           "float, sum) #1"))
          << strataGetLastError(comm);
    } else {
      EXPECT_EQ(strataAllReduce(x.data(), x.data(), 8, strataFloat32, strataSum, comm, nullptr),
                strataInvalidUsage);
    }
  });
}

// A group on one communicator: its collectives travel in one signature, compared call by call.
TEST_P(FullCheck, MismatchInsideAGroupNamesTheCall) {
  runChecked(2, GetParam(), [](int rank, strataComm_t comm) {
    std::vector<float> x(32, 1.f), y(32, 1.f);
    ASSERT_EQ(strataGroupStart(), strataSuccess);
    ASSERT_EQ(strataAllReduce(x.data(), x.data(), 32, strataFloat32, strataSum, comm, nullptr),
              strataSuccess);
    ASSERT_EQ(strataBroadcast(y.data(), y.data(), 32, strataFloat32, rank == 1 ? 1 : 0, comm,
                              nullptr),
              strataSuccess);
    const strataResult_t r = strataGroupEnd();
    const std::string msg = strataGetLastError(comm);
    EXPECT_EQ(r, strataInvalidUsage) << msg;
    EXPECT_TRUE(mentions(msg, "Broadcast(count 32, float, root 0) #2")) << msg;
    EXPECT_TRUE(mentions(msg, "Broadcast(count 32, float, root 1) #2")) << msg;
    EXPECT_TRUE(mentions(msg, "collective 2 of a group of 2")) << msg;
    expectUsable(comm, 2);
  });
}

// Matching calls pass the check and compute what they would without it, Send/Recv included.
TEST_P(FullCheck, MatchingCallsRunAsUsual) {
  runChecked(3, GetParam(), [](int rank, strataComm_t comm) {
    sendRecvThenAllReduce(rank, comm, 3);
  });
}

INSTANTIATE_TEST_SUITE_P(Transports, FullCheck, ::testing::Values("", "sim"),
                         [](const auto& info) {
                           return std::string(info.param[0] ? info.param : "shm");
                         });

// One thread drives every rank's communicator in one group (the single-threaded multi-device
// pattern): the exchanges of all communicators run together, and the group is refused.
TEST(FullCheckGroup, OneThreadDrivingEveryRank) {
  constexpr int kRanks = 3;
  std::vector<strataComm_t> comms = checkedComms(kRanks, "");
  ASSERT_EQ(comms.size(), static_cast<size_t>(kRanks));
  std::vector<std::vector<float>> bufs(kRanks, std::vector<float>(64, 1.f));
  ASSERT_EQ(strataGroupStart(), strataSuccess);
  for (int r = 0; r < kRanks; ++r) {
    const size_t count = r == 1 ? 32 : 64;
    ASSERT_EQ(strataAllReduce(bufs[r].data(), bufs[r].data(), count, strataFloat32, strataSum,
                              comms[r], nullptr),
              strataSuccess);
  }
  EXPECT_EQ(strataGroupEnd(), strataInvalidUsage);
  for (int r = 0; r < kRanks; ++r) {
    const std::string msg = strataGetLastError(comms[r]);
    EXPECT_TRUE(mentions(msg, "rank " + std::to_string(r) + " called AllReduce(count " +
                                  (r == 1 ? "32" : "64")))
        << msg;
    EXPECT_TRUE(mentions(msg, "AllReduce(count " + std::string(r == 1 ? "64" : "32"))) << msg;
    EXPECT_EQ(bufs[r][0], 1.f);
  }
  // The same group with agreeing counts then runs.
  ASSERT_EQ(strataGroupStart(), strataSuccess);
  for (int r = 0; r < kRanks; ++r)
    ASSERT_EQ(strataAllReduce(bufs[r].data(), bufs[r].data(), 64, strataFloat32, strataSum,
                              comms[r], nullptr),
              strataSuccess);
  ASSERT_EQ(strataGroupEnd(), strataSuccess) << strataGetLastError(comms[0]);
  for (int r = 0; r < kRanks; ++r) EXPECT_EQ(bufs[r][0], static_cast<float>(kRanks));
  for (auto c : comms) EXPECT_EQ(strataCommDestroy(c), strataSuccess);
}

// A value of STRATA_CHECK other than 0 or 1 is refused at init, naming it.
TEST(FullCheckConfig, BadValueIsRefused) {
  strataComm_t comms[2] = {};
  ::setenv("STRATA_CHECK", "yes", 1);
  const strataResult_t r = strataCommInitAll(comms, 2, nullptr);
  ::unsetenv("STRATA_CHECK");
  EXPECT_EQ(r, strataInvalidArgument);
  EXPECT_TRUE(mentions(strataGetLastError(nullptr), "STRATA_CHECK='yes'"))
      << strataGetLastError(nullptr);
}

}  // namespace
}  // namespace strata::test
