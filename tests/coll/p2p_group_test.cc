// Send/Recv, groups (including one thread driving every communicator), Barrier and streams.
#include <algorithm>
#include <atomic>
#include <chrono>

#include "coll/coll_harness.h"

namespace strata::test {
namespace {

class RanksTest : public ::testing::TestWithParam<int> {};

std::vector<float> ramp(size_t n, int rank) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(rank * 1000 + static_cast<int>(i % 997));
  return v;
}

TEST_P(RanksTest, RingSendRecvInGroup) {
  const int n = GetParam();
  for (size_t count : {size_t{0}, size_t{1}, size_t{1000}, size_t{(1 << 20) + 3}}) {
    runRanks(n, "", [&](int rank, strataComm_t comm) {
      std::vector<float> send = ramp(count, rank), recv(count, -1.f);
      const int right = (rank + 1) % n, left = (rank + n - 1) % n;
      ASSERT_EQ(strataGroupStart(), strataSuccess);
      ASSERT_EQ(strataSend(send.data(), count, strataFloat32, right, comm, nullptr), strataSuccess);
      ASSERT_EQ(strataRecv(recv.data(), count, strataFloat32, left, comm, nullptr), strataSuccess);
      ASSERT_EQ(strataGroupEnd(), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(recv, ramp(count, left)) << "count " << count << " rank " << rank;
    });
  }
}

TEST_P(RanksTest, OneThreadDrivesAllCommsInAGroup) {
  const int n = GetParam();
  std::vector<strataComm_t> comms(static_cast<size_t>(n));
  ASSERT_EQ(strataCommInitAll(comms.data(), n, nullptr), strataSuccess);
  const size_t count = 100003;
  std::vector<std::vector<float>> bufs(static_cast<size_t>(n));
  ASSERT_EQ(strataGroupStart(), strataSuccess);
  for (int r = 0; r < n; ++r) {
    bufs[static_cast<size_t>(r)].assign(count, static_cast<float>(r + 1));
    ASSERT_EQ(strataAllReduce(bufs[static_cast<size_t>(r)].data(), bufs[static_cast<size_t>(r)].data(),
                              count, strataFloat32, strataSum, comms[static_cast<size_t>(r)], nullptr),
              strataSuccess);
  }
  ASSERT_EQ(strataGroupEnd(), strataSuccess) << strataGetLastError(nullptr);
  const float expect = static_cast<float>(n * (n + 1) / 2);
  for (auto& b : bufs) EXPECT_EQ(b, std::vector<float>(count, expect));
  for (auto c : comms) EXPECT_EQ(strataCommDestroy(c), strataSuccess);
}

TEST_P(RanksTest, AllPairsSendRecvWithSelf) {
  const int n = GetParam();
  runRanks(n, "", [&](int rank, strataComm_t comm) {
    const size_t count = 777;
    std::vector<std::vector<int32_t>> out(static_cast<size_t>(n)), in(static_cast<size_t>(n));
    ASSERT_EQ(strataGroupStart(), strataSuccess);
    for (int p = 0; p < n; ++p) {
      out[static_cast<size_t>(p)].assign(count, rank * 100 + p);
      in[static_cast<size_t>(p)].assign(count, -1);
      strataSend(out[static_cast<size_t>(p)].data(), count, strataInt32, p, comm, nullptr);
      strataRecv(in[static_cast<size_t>(p)].data(), count, strataInt32, p, comm, nullptr);
    }
    ASSERT_EQ(strataGroupEnd(), strataSuccess) << strataGetLastError(comm);
    for (int p = 0; p < n; ++p)
      EXPECT_EQ(in[static_cast<size_t>(p)], std::vector<int32_t>(count, p * 100 + rank));
  });
}

// A call of the shape just run reuses the prepared run on its new buffers; every other call in
// between (another shape, in place, a group, a stream) must leave it correct.
TEST_P(RanksTest, RepeatedShapesOnNewBuffersStayExact) {
  const int n = GetParam();
  for (size_t count : {size_t{1000}, size_t{(1 << 20) + 3}}) {
    runRanks(n, "", [&](int rank, strataComm_t comm) {
      auto sum = [&](int round) {  // the AllReduce of ramp(count, r) + round over every rank r
        std::vector<float> v(count, 0.f);
        for (int r = 0; r < n; ++r) {
          std::vector<float> x = ramp(count, r);
          for (size_t i = 0; i < count; ++i) v[i] += x[i] + static_cast<float>(round);
        }
        return v;
      };
      auto input = [&](int round) {
        std::vector<float> v = ramp(count, rank);
        for (float& x : v) x += static_cast<float>(round);
        return v;
      };
      auto allReduce = [&](const float* in, float* out, strataStream_t stream) {
        return strataAllReduce(in, out, count, strataFloat32, strataSum, comm, stream);
      };
      std::vector<float> a = input(0), b(count, -1.f), c = input(1), d(count, -1.f);
      ASSERT_EQ(allReduce(a.data(), b.data(), nullptr), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(b, sum(0));
      ASSERT_EQ(allReduce(c.data(), d.data(), nullptr), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(d, sum(1));
      ASSERT_EQ(allReduce(c.data(), c.data(), nullptr), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(c, sum(1));
      std::vector<float> root(count, rank == 0 ? 7.f : 0.f);
      ASSERT_EQ(strataBroadcast(root.data(), root.data(), count, strataFloat32, 0, comm, nullptr),
                strataSuccess);
      EXPECT_EQ(root, std::vector<float>(count, 7.f));
      a = input(2);
      ASSERT_EQ(allReduce(a.data(), d.data(), nullptr), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(d, sum(2));
      a = input(3);
      ASSERT_EQ(strataGroupStart(), strataSuccess);
      ASSERT_EQ(allReduce(a.data(), b.data(), nullptr), strataSuccess);
      ASSERT_EQ(strataGroupEnd(), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(b, sum(3));
      strataStream_t stream = nullptr;
      ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
      c = input(4);
      ASSERT_EQ(allReduce(c.data(), d.data(), stream), strataSuccess);
      ASSERT_EQ(strataStreamSynchronize(stream), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(d, sum(4));
      a = input(5);
      ASSERT_EQ(allReduce(a.data(), b.data(), nullptr), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(b, sum(5));
      EXPECT_EQ(strataStreamDestroy(stream), strataSuccess);
    });
  }
}

// A group repeating the last group's calls reuses its prepared run with the new buffers; a
// group that differs only in a peer or a count must not.
TEST_P(RanksTest, RepeatedGroupsOnNewBuffersStayExact) {
  const int n = GetParam();
  runRanks(n, "", [&](int rank, strataComm_t comm) {
    const size_t count = 1000;
    std::vector<std::vector<float>> out(3), in(3), sum(3);
    for (int round = 0; round < 6; ++round) {
      const int k = round % 3;  // rotates the buffers
      const int shift = round < 4 ? 1 : 2;  // the peers change from round 4 on
      const size_t c = round == 5 ? count / 2 : count;  // and the count in round 5
      const int right = (rank + shift) % n, left = (rank - shift % n + n) % n;
      out[k] = ramp(c, rank + round);
      in[k].assign(c, -1.f);
      sum[k].assign(c, static_cast<float>(rank + round));
      ASSERT_EQ(strataGroupStart(), strataSuccess);
      ASSERT_EQ(strataSend(out[k].data(), c, strataFloat32, right, comm, nullptr), strataSuccess);
      ASSERT_EQ(strataRecv(in[k].data(), c, strataFloat32, left, comm, nullptr), strataSuccess);
      ASSERT_EQ(strataAllReduce(sum[k].data(), sum[k].data(), c, strataFloat32, strataSum, comm,
                                nullptr),
                strataSuccess);
      ASSERT_EQ(strataGroupEnd(), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(in[k], ramp(c, left + round)) << "round " << round << " rank " << rank;
      const float total = static_cast<float>(n * (n - 1) / 2 + n * round);
      EXPECT_EQ(sum[k], std::vector<float>(c, total)) << "round " << round << " rank " << rank;
    }
  });
}

// The same for groups queued on a stream: they run in order on the stream's thread.
TEST_P(RanksTest, RepeatedGroupsOnAStreamStayExact) {
  const int n = GetParam();
  runRanks(n, "", [&](int rank, strataComm_t comm) {
    strataStream_t stream = nullptr;
    ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
    const size_t count = 777;
    const int right = (rank + 1) % n, left = (rank + n - 1) % n;
    std::vector<std::vector<float>> out(4), in(4);
    for (int round = 0; round < 4; ++round) {
      out[round] = ramp(count, rank + round);
      in[round].assign(count, -1.f);
      ASSERT_EQ(strataGroupStart(), strataSuccess);
      ASSERT_EQ(strataSend(out[round].data(), count, strataFloat32, right, comm, stream),
                strataSuccess);
      ASSERT_EQ(strataRecv(in[round].data(), count, strataFloat32, left, comm, stream),
                strataSuccess);
      ASSERT_EQ(strataGroupEnd(), strataSuccess) << strataGetLastError(comm);
    }
    ASSERT_EQ(strataStreamSynchronize(stream), strataSuccess) << strataGetLastError(comm);
    for (int round = 0; round < 4; ++round)
      EXPECT_EQ(in[round], ramp(count, left + round)) << "round " << round << " rank " << rank;
    EXPECT_EQ(strataStreamDestroy(stream), strataSuccess);
  });
}

// Ring blocks of 16 MiB and more are forwarded from cache and written to the output with
// non-temporal stores (the executor's streaming forward); they must stay exact, in place too.
TEST(LargeRingBlocks, ForwardedWhileStreamedOutStayExact) {
  for (int n : {2, 3}) {
    const size_t count = static_cast<size_t>(n) * ((size_t{4} << 20) + 5) + 3;  // > 16 MiB blocks
    runRanks(n, "allreduce:@ringpipe#allgather:@ringpipe", [&](int rank, strataComm_t comm) {
      std::vector<float> in = ramp(count, rank), out(count, -1.f), expect(count, 0.f);
      for (int r = 0; r < n; ++r) {
        std::vector<float> x = ramp(count, r);
        for (size_t i = 0; i < count; ++i) expect[i] += x[i];
      }
      ASSERT_EQ(strataAllReduce(in.data(), out.data(), count, strataFloat32, strataSum, comm,
                                nullptr), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(out, expect) << n << " ranks, out of place";
      ASSERT_EQ(strataAllReduce(in.data(), in.data(), count, strataFloat32, strataSum, comm,
                                nullptr), strataSuccess) << strataGetLastError(comm);
      EXPECT_EQ(in, expect) << n << " ranks, in place";

      const size_t per = (size_t{4} << 20) + 7;  // floats per rank: a 16 MiB + 28 B block
      std::vector<float> mine = ramp(per, rank), all(per * static_cast<size_t>(n), -1.f);
      ASSERT_EQ(strataAllGather(mine.data(), all.data(), per, strataFloat32, comm, nullptr),
                strataSuccess) << strataGetLastError(comm);
      for (int r = 0; r < n; ++r) {
        const std::vector<float> x = ramp(per, r);
        EXPECT_TRUE(std::equal(x.begin(), x.end(), all.begin() + static_cast<long>(per) * r))
            << n << " ranks, AllGather block of rank " << r;
      }
    });
  }
}

TEST_P(RanksTest, BarrierHoldsEveryRankBack) {
  const int n = GetParam();
  std::atomic<int> arrived{0};
  runRanks(n, "", [&](int rank, strataComm_t comm) {
    if (rank == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    arrived.fetch_add(1);
    ASSERT_EQ(strataBarrier(comm, nullptr), strataSuccess);
    EXPECT_EQ(arrived.load(), n);
  });
}

// A call that fails on a stream's thread reports through strataStreamSynchronize and leaves its
// message for strataGetLastError; the communicator refuses later calls.
TEST(StreamErrors, AFailedQueuedCallIsReportedAtSynchronize) {
  runRanks(2, "", [&](int rank, strataComm_t comm) {
    strataStream_t stream = nullptr;
    ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
    const size_t count = rank == 0 ? 1000 : 2000;  // mismatched on purpose
    std::vector<float> a(2000, 1.f), b(2000, 0.f);
    ASSERT_EQ(strataAllReduce(a.data(), b.data(), count, strataFloat32, strataSum, comm, stream),
              strataSuccess);  // queued
    const strataResult_t r = strataStreamSynchronize(stream);
    EXPECT_TRUE(r == strataInvalidUsage || r == strataRemoteError) << strataGetErrorString(r);
    const std::string message = strataGetLastError(comm);
    EXPECT_NE(message.find("AllReduce"), std::string::npos) << message;
    EXPECT_EQ(strataAllReduce(a.data(), b.data(), count, strataFloat32, strataSum, comm, nullptr),
              strataInvalidUsage);
    EXPECT_EQ(strataStreamDestroy(stream), strataSuccess);
  });
}

TEST_P(RanksTest, StreamQueuesInOrder) {
  const int n = GetParam();
  runRanks(n, "", [&](int rank, strataComm_t comm) {
    strataStream_t stream = nullptr;
    ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
    const size_t count = 65536;
    std::vector<float> a(count, static_cast<float>(rank)), b(count, 0.f);
    // b = sum(a); then b = sum(b): the second call must see the first's result.
    ASSERT_EQ(strataAllReduce(a.data(), b.data(), count, strataFloat32, strataSum, comm, stream), strataSuccess);
    ASSERT_EQ(strataAllReduce(b.data(), b.data(), count, strataFloat32, strataSum, comm, stream), strataSuccess);
    ASSERT_EQ(strataStreamSynchronize(stream), strataSuccess) << strataGetLastError(comm);
    EXPECT_EQ(strataStreamQuery(stream), strataSuccess);
    const float expect = static_cast<float>(n) * static_cast<float>(n * (n - 1) / 2);
    EXPECT_EQ(b, std::vector<float>(count, expect));
    EXPECT_EQ(strataStreamDestroy(stream), strataSuccess);
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, RanksTest, ::testing::Values(1, 2, 3, 4, 7, 8));

TEST(P2PTest, MismatchedSizesAreReportedNotHung) {
  runRanks(2, "", [&](int rank, strataComm_t comm) {
    std::vector<float> buf(100, 1.f);
    strataResult_t r = rank == 0 ? strataSend(buf.data(), 100, strataFloat32, 1, comm, nullptr)
                                 : strataRecv(buf.data(), 50, strataFloat32, 0, comm, nullptr);
    if (rank == 1) {
      EXPECT_EQ(r, strataInvalidUsage);
      EXPECT_NE(std::string(strataGetLastError(comm)).find("rank 0"), std::string::npos)
          << strataGetLastError(comm);
    }
  });
}

}  // namespace
}  // namespace strata::test
