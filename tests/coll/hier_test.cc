// The hierarchical (TopoComm) algorithms beyond the registry matrix (tests/coll/coll_test.cc runs
// them on 2x2, 2x3, 3x2 and hccs-2x8): exact statistics for a hand-checked case, the scheduler's
// choice on two-level presets, data on hccs-4x8 and timing-only plans on cm384.
#include <cstring>
#include <string>
#include <vector>

#include "coll/coll_harness.h"

namespace strata::test {
namespace {

strataConfig_t simOn(const char* topo, const char* algo) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.transport = "sim";
  cfg.topoFile = topo;
  cfg.algo = algo;
  cfg.timeoutMs = 60000;
  return cfg;
}

// hccs-2x8, 16384 float32 (64 KiB): 8 groups' ranks hold blocks of 2048 elements (8 KiB). The
// two groups' index-i ranks exchange their whole blocks in one merged level-1 step (8 KiB each
// way: the bytes of the ring's two 4 KiB steps, one synchronisation instead of two). Per rank:
// 7 + 7 level-0 messages of 8 KiB and 1 level-1 message of 8 KiB, each one chunk (one
// synchronisation). Steps: the level-0 exchange, its reduction, the level-1 exchange, the
// level-0 AllGather.
TEST(HierStats, AllReduceCountersAreExactOnHccs2x8) {
  const strataConfig_t cfg = simOn("hccs-2x8", "allreduce:@hier");
  runRanksWith(16, cfg, [](int rank, strataComm_t comm) {
    std::vector<float> x(16384, static_cast<float>(rank));
    ASSERT_EQ(
        strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, comm, nullptr),
        strataSuccess)
        << strataGetLastError(comm);
    for (float v : x) ASSERT_EQ(v, 120.0f);
    strataStats_t s{};
    ASSERT_EQ(strataCommGetStats(comm, &s), strataSuccess);
    EXPECT_STREQ(s.lastAlgo, "hier");
    EXPECT_EQ(s.numLevels, 2);
    EXPECT_EQ(s.last.bytesSent[0], 14u * 8192u) << "rank " << rank;
    EXPECT_EQ(s.last.bytesSent[1], 8192u) << "rank " << rank;
    EXPECT_EQ(s.last.syncs, 15u) << "rank " << rank;
    EXPECT_EQ(s.last.steps, 4u) << "rank " << rank;
  });
}

// The flat ring on the same call: 30 messages of 4 KiB, 30 synchronisations.
TEST(HierStats, FlatRingCountersForComparison) {
  const strataConfig_t cfg = simOn("hccs-2x8", "allreduce:@ring");
  runRanksWith(16, cfg, [](int rank, strataComm_t comm) {
    std::vector<float> x(16384, 1.0f);
    ASSERT_EQ(
        strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, comm, nullptr),
        strataSuccess);
    strataStats_t s{};
    ASSERT_EQ(strataCommGetStats(comm, &s), strataSuccess);
    EXPECT_EQ(s.last.syncs, 30u) << "rank " << rank;
    EXPECT_EQ(s.last.bytesSent[0] + s.last.bytesSent[1], 30u * 4096u) << "rank " << rank;
  });
}

// hccs-2x8 AllToAll, 256 float32 (1 KiB) per pair. hier: 7 level-0 steps of 2 blocks to the
// group's peer (one per destination group), then 1 level-1 message of the 8 blocks bound for
// the other server's same-index rank; pairwise: 15 steps of one block, 8 of them crossing level
// 1 (and its local copy as a step of its own). The same bytes and messages, 1 slow-level message
// instead of 8, 8 steps instead of 16.
TEST(HierStats, AllToAllCountersAreExactOnHccs2x8) {
  for (const char* algo : {"hier", "pairwise"}) {
    const std::string tune = std::string("alltoall:@") + algo;
    const strataConfig_t cfg = simOn("hccs-2x8", tune.c_str());
    const bool hier = std::string(algo) == "hier";
    runRanksWith(16, cfg, [&](int rank, strataComm_t comm) {
      const size_t c = 256;
      std::vector<float> in(16 * c), out(16 * c, -1.0f);
      for (size_t k = 0; k < in.size(); ++k) in[k] = static_cast<float>(rank * 10000 + k);
      ASSERT_EQ(strataAllToAll(in.data(), out.data(), c, strataFloat32, comm, nullptr),
                strataSuccess)
          << strataGetLastError(comm);
      for (size_t src = 0; src < 16; ++src)
        for (size_t e = 0; e < c; ++e)
          ASSERT_EQ(out[src * c + e], static_cast<float>(src * 10000 + rank * c + e))
              << algo << " rank " << rank << " from " << src;
      strataStats_t s{};
      ASSERT_EQ(strataCommGetStats(comm, &s), strataSuccess);
      EXPECT_STREQ(s.lastAlgo, algo);
      EXPECT_EQ(s.last.bytesSent[0], (hier ? 14u : 7u) * 1024u) << algo << " rank " << rank;
      EXPECT_EQ(s.last.bytesSent[1], 8u * 1024u) << algo << " rank " << rank;
      EXPECT_EQ(s.last.syncs, 15u) << algo << " rank " << rank;
      EXPECT_EQ(s.last.steps, hier ? 8u : 16u) << algo << " rank " << rank;
    });
  }
}

// hccs-2x8 AllToAllv with uneven counts per pair (some empty) and receive blocks packed in rank
// order: unpinned, the scheduler takes hier (its price comes from each rank's own counts, so
// the choice does not use it); the level-0 count exchange lets the packing rank size what its
// group sends on, and level 1 carries exactly what this group sends to the other server's
// same-index rank.
TEST(HierAllToAllv, UnevenCountsOnHccs2x8) {
  const strataConfig_t cfg = simOn("hccs-2x8", "");
  auto count = [](int from, int to) { return static_cast<size_t>((from + 2 * to) % 5) * 33; };
  runRanksWith(16, cfg, [&](int rank, strataComm_t comm) {
    std::vector<size_t> sc(16), sd(16), rc(16), rd(16);
    size_t sTotal = 0, rTotal = 0;
    for (int q = 0; q < 16; ++q) {
      const auto uq = static_cast<size_t>(q);
      sc[uq] = count(rank, q);
      rc[uq] = count(q, rank);
      sd[uq] = sTotal;
      rd[uq] = rTotal;
      sTotal += sc[uq];
      rTotal += rc[uq];
    }
    std::vector<float> in(sTotal), out(rTotal, -1.0f);
    for (size_t q = 0; q < 16; ++q)
      for (size_t e = 0; e < sc[q]; ++e) in[sd[q] + e] = static_cast<float>(rank * 100000 + q * 1000 + e);
    ASSERT_EQ(strataAllToAllv(in.data(), sc.data(), sd.data(), out.data(), rc.data(), rd.data(),
                              strataFloat32, comm, nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    for (size_t q = 0; q < 16; ++q)
      for (size_t e = 0; e < rc[q]; ++e)
        ASSERT_EQ(out[rd[q] + e], static_cast<float>(q * 100000 + static_cast<size_t>(rank) * 1000 + e))
            << "rank " << rank << " from " << q;
    strataStats_t s{};
    ASSERT_EQ(strataCommGetStats(comm, &s), strataSuccess);
    EXPECT_STREQ(s.lastAlgo, "hier");
    EXPECT_STREQ(s.lastAlgoSource, "model");
    // Rank (g, i) = 8g + i sends on at level 1 what its group sends to rank (1-g, i).
    const int g = rank / 8, i = rank % 8, peer = (1 - g) * 8 + i;
    size_t level1 = 0;
    for (int j = 0; j < 8; ++j) level1 += count(g * 8 + j, peer) * sizeof(float);
    EXPECT_EQ(s.last.bytesSent[1], level1) << "rank " << rank;
  });
}

// Counts that disagree between a sender and its receiver (rank 0 sends 40 elements to rank 9,
// which expects 30) fail the call instead of writing past the receiver's block.
TEST(HierAllToAllv, DisagreeingCountsFail) {
  strataConfig_t cfg = simOn("hccs-2x8", "alltoallv:@hier");
  cfg.timeoutMs = 3000;
  runRanksWith(16, cfg, [&](int rank, strataComm_t comm) {
    std::vector<size_t> sc(16, 30), sd(16), rc(16, 30), rd(16);
    if (rank == 0) sc[9] = 40;
    for (size_t q = 0; q < 16; ++q) sd[q] = rd[q] = q * 40;
    std::vector<float> in(16 * 40, 1.0f), out(16 * 40, 0.0f);
    const strataResult_t r = strataAllToAllv(in.data(), sc.data(), sd.data(), out.data(),
                                             rc.data(), rd.data(), strataFloat32, comm, nullptr);
    if (rank == 9) {
      EXPECT_NE(r, strataSuccess);
      for (size_t q = 0; q < 16; ++q)  // nothing past the 30 elements of any block
        for (size_t e = 30; e < 40; ++e) ASSERT_EQ(out[q * 40 + e], 0.0f) << "from " << q;
    }
  });
}

// On the two-level presets the cost model picks hier for a large AllReduce (it is the cheapest
// plan there); a one-level topology never offers it.
TEST(HierSelection, SchedulerPicksHierOnTwoLevelPresets) {
  for (const char* topo : {"hccs-2x8", "hccs-4x8"}) {
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    cfg.topoFile = topo;
    strataSimResult_t r{};
    ASSERT_EQ(strataSimTimingOnly(&cfg, "allreduce", 4u << 20, strataFloat32, strataSum, 0, 1, &r),
              strataSuccess)
        << strataGetLastError(nullptr);
    EXPECT_STREQ(r.algo, "hier") << topo;
  }
  strataConfig_t flat = STRATA_CONFIG_INITIALIZER;
  flat.topoFile = "hccs-8";
  flat.algo = "allreduce:@hier";
  strataSimResult_t r{};
  EXPECT_EQ(strataSimTimingOnly(&flat, "allreduce", 1024, strataFloat32, strataSum, 0, 1, &r),
            strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("hier"), std::string::npos);
}

// cm384 (48 nodes of 8): every hierarchical plan evaluates, timing only.
TEST(HierSelection, Cm384TimingOnly) {
  for (const char* coll : {"allreduce", "allgather", "reducescatter", "alltoall"}) {
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    cfg.topoFile = "cm384";
    const std::string tune = std::string(coll) + ":@hier";
    cfg.algo = tune.c_str();
    strataSimResult_t r{};
    ASSERT_EQ(strataSimTimingOnly(&cfg, coll, 1 << 16, strataBfloat16, strataSum, 0, 0, &r),
              strataSuccess)
        << coll << ": " << strataGetLastError(nullptr);
    EXPECT_STREQ(r.algo, "hier");
    EXPECT_GT(r.simTimeUs, 0.0);
  }
}

// hccs-4x8 (4 servers of 8): the three collectives, exact, through the sim with real payload.
TEST(HierData, ThreeCollectivesOnHccs4x8) {
  const strataConfig_t cfg =
      simOn("hccs-4x8", "allreduce:@hier#allgather:@hier#reducescatter:@hier");
  runRanksWith(32, cfg, [](int rank, strataComm_t comm) {
    const size_t c = 257;
    std::vector<int32_t> in(c * 32), out(c * 32);
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int32_t>(i % 13) + rank;
    ASSERT_EQ(
        strataAllReduce(in.data(), out.data(), in.size(), strataInt32, strataSum, comm, nullptr),
        strataSuccess);
    for (size_t i = 0; i < in.size(); ++i)
      ASSERT_EQ(out[i], 32 * static_cast<int32_t>(i % 13) + 496) << i;
    ASSERT_EQ(strataReduceScatter(in.data(), out.data(), c, strataInt32, strataSum, comm, nullptr),
              strataSuccess);
    for (size_t i = 0; i < c; ++i) {
      const size_t g = static_cast<size_t>(rank) * c + i;
      ASSERT_EQ(out[i], 32 * static_cast<int32_t>(g % 13) + 496) << i;
    }
    std::vector<int32_t> mine(c, rank);
    ASSERT_EQ(strataAllGather(mine.data(), out.data(), c, strataInt32, comm, nullptr),
              strataSuccess);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], static_cast<int32_t>(i / c)) << i;
    strataStats_t s{};
    ASSERT_EQ(strataCommGetStats(comm, &s), strataSuccess);
    EXPECT_STREQ(s.lastAlgo, "hier");
  });
}

}  // namespace
}  // namespace strata::test
