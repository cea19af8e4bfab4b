// DuoStream: two streams progress at once, and strataSimCompute charges the caller's compute to
// the sim's per-stream virtual clocks, so a collective on another stream overlaps it (virtual
// time is deterministic: the assertions are exact).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "coll/coll_harness.h"

namespace strata::test {
namespace {

constexpr int kSimRanks = 8;  // hccs-8
constexpr size_t kGatherElems = 64 * 1024;  // floats per rank

int64_t clockPs(strataComm_t comm) {
  strataStats_t s{};
  EXPECT_EQ(strataCommGetStats(comm, &s), strataSuccess) << strataGetLastError(comm);
  return std::llround(s.simClockUs * 1e6);
}

int64_t lastPs(strataComm_t comm) {
  strataStats_t s{};
  EXPECT_EQ(strataCommGetStats(comm, &s), strataSuccess) << strataGetLastError(comm);
  return std::llround(s.last.simTimeUs * 1e6);
}

double usOf(int64_t ps) { return static_cast<double>(ps) / 1e6; }

void runSimRanks(const std::function<void(int, strataComm_t)>& body) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.transport = "sim";
  cfg.topoFile = "hccs-8";
  cfg.timeoutMs = 60000;
  runRanksWith(kSimRanks, cfg, body);
}

void allGather(strataComm_t comm, int rank, strataStream_t stream, std::vector<float>& send,
               std::vector<float>& recv) {
  std::fill(send.begin(), send.end(), static_cast<float>(rank));
  ASSERT_EQ(strataAllGather(send.data(), recv.data(), send.size(), strataFloat32, comm, stream),
            strataSuccess)
      << strataGetLastError(comm);
}

void expectGathered(const std::vector<float>& recv, int rank) {
  for (int r = 0; r < kSimRanks; ++r)
    ASSERT_EQ(recv[static_cast<size_t>(r) * kGatherElems], static_cast<float>(r))
        << "rank " << rank << " block " << r;
}

TEST(DuoStream, SimComputeAdvancesTheCallersClockByExactlyTheCharge) {
  runSimRanks([](int rank, strataComm_t comm) {
    const int64_t t0 = clockPs(comm);
    ASSERT_EQ(strataSimCompute(comm, nullptr, 12.5), strataSuccess) << strataGetLastError(comm);
    EXPECT_EQ(clockPs(comm) - t0, 12500000) << "rank " << rank;
    ASSERT_EQ(strataSimCompute(comm, nullptr, 0.0), strataSuccess);
    EXPECT_EQ(clockPs(comm) - t0, 12500000) << "rank " << rank;
    // Charged to a stream: its clock moves when the stream reaches the charge; synchronize joins
    // it into the caller's.
    strataStream_t s = nullptr;
    ASSERT_EQ(strataStreamCreate(&s), strataSuccess);
    ASSERT_EQ(strataSimCompute(comm, s, 7.25), strataSuccess) << strataGetLastError(comm);
    ASSERT_EQ(strataStreamSynchronize(s), strataSuccess);
    EXPECT_EQ(clockPs(comm) - t0, 12500000 + 7250000) << "rank " << rank;
    EXPECT_EQ(strataStreamDestroy(s), strataSuccess);
  });
}

// The collective on stream `comm` and the compute on stream `compute` (the caller's own thread
// when NULL) start together; the rank's clock ends at the later of the two.
TEST(DuoStream, CollectiveOnAnotherStreamOverlapsTheCharge) {
  runSimRanks([](int rank, strataComm_t comm) {
    std::vector<float> send(kGatherElems), recv(kGatherElems * kSimRanks);
    // The collective alone, from the caller's thread.
    allGather(comm, rank, nullptr, send, recv);
    const int64_t gatherPs = lastPs(comm);
    ASSERT_GT(gatherPs, 0);
    strataStream_t commStream = nullptr, computeStream = nullptr;
    ASSERT_EQ(strataStreamCreate(&commStream), strataSuccess);
    ASSERT_EQ(strataStreamCreate(&computeStream), strataSuccess);
    // Compute longer, then shorter, than the collective; on the caller's thread, then on a
    // second stream.
    for (strataStream_t compute : {static_cast<strataStream_t>(nullptr), computeStream}) {
      for (int64_t computePs : {2 * gatherPs, gatherPs / 3}) {
        const int64_t t0 = clockPs(comm);
        std::fill(recv.begin(), recv.end(), -1.0f);
        allGather(comm, rank, commStream, send, recv);
        ASSERT_EQ(strataSimCompute(comm, compute, usOf(computePs)), strataSuccess)
            << strataGetLastError(comm);
        if (compute) {
          ASSERT_EQ(strataStreamSynchronize(compute), strataSuccess);
        }
        ASSERT_EQ(strataStreamSynchronize(commStream), strataSuccess);
        expectGathered(recv, rank);
        EXPECT_EQ(lastPs(comm), gatherPs) << "rank " << rank;
        EXPECT_EQ(clockPs(comm) - t0, std::max(gatherPs, computePs))
            << "rank " << rank << (compute ? " compute on a stream" : " compute on the caller");
      }
    }
    // On the collective's own stream the charge follows the collective: no overlap.
    const int64_t t0 = clockPs(comm);
    allGather(comm, rank, commStream, send, recv);
    ASSERT_EQ(strataSimCompute(comm, commStream, usOf(gatherPs)), strataSuccess);
    ASSERT_EQ(strataStreamSynchronize(commStream), strataSuccess);
    EXPECT_EQ(clockPs(comm) - t0, 2 * gatherPs) << "rank " << rank;
    // A call from the caller's thread starts after the caller's compute.
    const int64_t t1 = clockPs(comm);
    ASSERT_EQ(strataSimCompute(comm, nullptr, usOf(gatherPs)), strataSuccess);
    allGather(comm, rank, nullptr, send, recv);
    EXPECT_EQ(clockPs(comm) - t1, 2 * gatherPs) << "rank " << rank;
    EXPECT_EQ(strataStreamDestroy(commStream), strataSuccess);
    EXPECT_EQ(strataStreamDestroy(computeStream), strataSuccess);
  });
}

TEST(DuoStream, SimComputeRejectsBadInput) {
  EXPECT_EQ(strataSimCompute(nullptr, nullptr, 1.0), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("comm"), std::string::npos);
  runRanks(1, "", [](int, strataComm_t comm) {
    for (double bad : {-1.0, std::nan(""), HUGE_VAL, -HUGE_VAL, 1e13}) {
      EXPECT_EQ(strataSimCompute(comm, nullptr, bad), strataInvalidArgument) << bad;
      const std::string msg = strataGetLastError(comm);
      EXPECT_NE(msg.find("microseconds is"), std::string::npos) << msg;
    }
    auto* bogus = reinterpret_cast<strataStream_t>(&comm);
    EXPECT_EQ(strataSimCompute(comm, bogus, 1.0), strataInvalidArgument);
    // Without a virtual clock (shm) the call does nothing.
    ASSERT_EQ(strataSimCompute(comm, nullptr, 5.0), strataSuccess);
    strataStats_t s{};
    ASSERT_EQ(strataCommGetStats(comm, &s), strataSuccess);
    EXPECT_EQ(s.simClockUs, 0.0);
  });
}

// Two streams of one rank run at once: rank 0 queues a receive on comm A on one stream and an
// AllReduce on comm B on another; rank 1 sends on comm A only after its AllReduce on comm B has
// completed. Were rank 0's streams run one after the other, its receive would wait for a send
// that waits for its AllReduce: the call would time out instead of completing.
TEST(DuoStream, TwoStreamsProgressAtOnce) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 20000;
  std::vector<strataComm_t> a(2), b(2);
  ASSERT_EQ(strataCommInitAll(a.data(), 2, &cfg), strataSuccess) << strataGetLastError(nullptr);
  ASSERT_EQ(strataCommInitAll(b.data(), 2, &cfg), strataSuccess) << strataGetLastError(nullptr);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      strataStream_t s1 = nullptr, s2 = nullptr;
      ASSERT_EQ(strataStreamCreate(&s1), strataSuccess);
      ASSERT_EQ(strataStreamCreate(&s2), strataSuccess);
      std::vector<float> msg(1000, r == 1 ? 3.0f : 0.0f), sum(1000, 1.0f);
      if (r == 0) {
        ASSERT_EQ(strataRecv(msg.data(), msg.size(), strataFloat32, 1, a[0], s1), strataSuccess);
        ASSERT_EQ(strataAllReduce(sum.data(), sum.data(), sum.size(), strataFloat32, strataSum,
                                  b[0], s2),
                  strataSuccess);
      } else {
        ASSERT_EQ(strataAllReduce(sum.data(), sum.data(), sum.size(), strataFloat32, strataSum,
                                  b[1], s2),
                  strataSuccess);
        ASSERT_EQ(strataStreamSynchronize(s2), strataSuccess) << strataGetLastError(b[1]);
        ASSERT_EQ(strataSend(msg.data(), msg.size(), strataFloat32, 0, a[1], s1), strataSuccess);
      }
      EXPECT_EQ(strataStreamSynchronize(s1), strataSuccess) << strataGetLastError(a[r]);
      EXPECT_EQ(strataStreamSynchronize(s2), strataSuccess) << strataGetLastError(b[r]);
      EXPECT_EQ(sum[999], 2.0f) << "rank " << r;
      EXPECT_EQ(msg[999], 3.0f) << "rank " << r;
      EXPECT_EQ(strataStreamDestroy(s1), strataSuccess);
      EXPECT_EQ(strataStreamDestroy(s2), strataSuccess);
    });
  }
  for (auto& t : threads) t.join();
  for (auto c : a) EXPECT_EQ(strataCommDestroy(c), strataSuccess);
  for (auto c : b) EXPECT_EQ(strataCommDestroy(c), strataSuccess);
}

}  // namespace
}  // namespace strata::test
