// The two-level MoE route (src/moe/moe_hier.cc) on the sim's hccs-2x8 (two groups of 8):
// dispatch delivers exactly the flat route's rows, and combine the float32 sums in the
// documented order, bit for bit; tokens bound for several ranks of the other group cross level
// 1 once, so the level-1 bytes of dispatch and combine drop against the flat route
// (STRATA_MOE_ROUTE=flat).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "coll/moe_harness.h"

namespace strata::test {
namespace {

constexpr int kRanks = 16;   // hccs-2x8
constexpr int kGroup = 8;    // ranks per level-0 group
constexpr int kExperts = 32;  // 2 per rank
constexpr int kTopk = 4;
constexpr size_t kTokens = 12;
constexpr size_t kHidden = 64;
constexpr int kLocal = kExperts / kRanks;

// Rank s's token t goes to one expert on each of ranks 0, 2, 4, 6 of the other group (and, for
// odd t, also to one on its own group's rank (s + 1) % 8 instead of the last of those).
int expertOf(int s, size_t t, int j) {
  const int other = 1 - s / kGroup;
  int rank = other * kGroup + 2 * j;
  if (t % 2 == 1 && j == kTopk - 1) rank = (s / kGroup) * kGroup + (s + 1) % kGroup;
  return rank * kLocal + static_cast<int>((t + static_cast<size_t>(j)) % kLocal);
}
float weightOf(int s, size_t t, int j) {
  return 0.1f + 0.05f * static_cast<float>((s + 3 * static_cast<int>(t) + 7 * j) % 11);
}
float inputOf(int s, size_t t, size_t i) {
  return static_cast<float>((s * 131 + static_cast<int>(t) * 17 + static_cast<int>(i) * 7) % 29) /
             7.0f -
         2.0f;
}
float scaleOf(int e) { return 1.0f + 0.25f * static_cast<float>(e % 5); }

struct RankResult {
  std::vector<float> recvX, recvW, combined;
  std::vector<int32_t> recvIdx;
  std::vector<int> counts;
  uint64_t dispatchLevel1 = 0, combineLevel1 = 0;
};

// Every rank's dispatch and combine (identity experts scaled by scaleOf) with the given route.
std::vector<RankResult> runRoute(const char* route) {
  const ScopedEnv env("STRATA_MOE_ROUTE", route);
  std::vector<RankResult> out(kRanks);
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.transport = "sim";
  cfg.topoFile = "hccs-2x8";
  cfg.timeoutMs = 60000;
  runRanksWith(kRanks, cfg, [&](int rank, strataComm_t comm) {
    const strataMoeConfig_t mc = moeConfig(kTokens, kHidden, kTopk, kExperts, strataFloat32);
    strataMoeBuffer_t buf = nullptr;
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess) << strataGetLastError(comm);
    std::vector<int32_t> ids(kTokens * kTopk);
    std::vector<float> w(kTokens * kTopk), x(kTokens * kHidden);
    for (size_t t = 0; t < kTokens; ++t) {
      for (int j = 0; j < kTopk; ++j) {
        ids[t * kTopk + static_cast<size_t>(j)] = expertOf(rank, t, j);
        w[t * kTopk + static_cast<size_t>(j)] = weightOf(rank, t, j);
      }
      for (size_t i = 0; i < kHidden; ++i) x[t * kHidden + i] = inputOf(rank, t, i);
    }
    size_t maxRows = 0;
    ASSERT_EQ(strataMoeGetMaxRecvTokens(buf, &maxRows), strataSuccess);
    RankResult& r = out[static_cast<size_t>(rank)];
    r.recvX.assign(maxRows * kHidden, 0.0f);
    r.recvW.assign(maxRows * kTopk, 0.0f);
    r.recvIdx.assign(maxRows * kTopk, 0);
    r.counts.assign(kLocal, 0);
    size_t rows = 0;
    strataMoeHandle_t handle{};
    strataStats_t before{}, mid{}, after{};
    ASSERT_EQ(strataCommGetStats(comm, &before), strataSuccess);
    ASSERT_EQ(strataMoeDispatch(buf, x.data(), strataFloat32, kTokens, ids.data(), strataInt32,
                                w.data(), r.recvX.data(), r.recvIdx.data(), r.recvW.data(),
                                r.counts.data(), &rows, &handle, nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    ASSERT_EQ(strataCommGetStats(comm, &mid), strataSuccess);
    r.recvX.resize(rows * kHidden);
    std::vector<float> expertOut(std::max<size_t>(rows, 1) * kHidden);
    size_t row = 0;
    for (int le = 0; le < kLocal; ++le)
      for (int q = 0; q < r.counts[static_cast<size_t>(le)]; ++q, ++row)
        for (size_t i = 0; i < kHidden; ++i)
          expertOut[row * kHidden + i] =
              scaleOf(rank * kLocal + le) * r.recvX[row * kHidden + i];
    r.combined.assign(kTokens * kHidden, 0.0f);
    ASSERT_EQ(strataMoeCombine(buf, &handle, expertOut.data(), strataFloat32, r.combined.data(),
                               nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    ASSERT_EQ(strataCommGetStats(comm, &after), strataSuccess);
    r.dispatchLevel1 = mid.total.bytesSent[1] - before.total.bytesSent[1];
    r.combineLevel1 = after.total.bytesSent[1] - mid.total.bytesSent[1];
    EXPECT_EQ(strataMoeBufferDestroy(buf), strataSuccess);
  });
  return out;
}

// The documented order of the two-level combine for rank s's token t: each rank's sum of its
// rows (ascending local expert) in float32; the gateway adds its group's sums in rank order;
// the source adds, group by group, its own group's sums rank by rank and each other group's sum.
float hierReference(int s, size_t t, size_t i) {
  auto partial = [&](int r) {
    float acc = 0;
    bool any = false;
    for (int le = 0; le < kLocal; ++le)
      for (int j = 0; j < kTopk; ++j)
        if (expertOf(s, t, j) == r * kLocal + le) {
          const float y = scaleOf(r * kLocal + le) * inputOf(s, t, i);
          acc += weightOf(s, t, j) * y;
          any = true;
        }
    return std::make_pair(any, acc);
  };
  float acc = 0;
  for (int g = 0; g < kRanks / kGroup; ++g) {
    float group = 0;
    for (int j = 0; j < kGroup; ++j) {
      const auto [any, p] = partial(g * kGroup + j);
      if (!any) continue;
      if (g == s / kGroup)
        acc += p;
      else
        group += p;
    }
    if (g != s / kGroup) acc += group;
  }
  return acc;
}

TEST(MoeHier, DispatchMatchesTheFlatRouteAndCombineTheDocumentedOrderBitForBit) {
  const std::vector<RankResult> flat = runRoute("flat");
  const std::vector<RankResult> hier = runRoute("hier");
  uint64_t flatD = 0, flatC = 0, hierD = 0, hierC = 0;
  for (int r = 0; r < kRanks; ++r) {
    const RankResult& f = flat[static_cast<size_t>(r)];
    const RankResult& h = hier[static_cast<size_t>(r)];
    EXPECT_EQ(h.counts, f.counts) << "rank " << r;
    EXPECT_EQ(h.recvX, f.recvX) << "rank " << r;
    EXPECT_EQ(h.recvIdx, f.recvIdx) << "rank " << r;
    EXPECT_EQ(h.recvW, f.recvW) << "rank " << r;
    for (size_t t = 0; t < kTokens; ++t)
      for (size_t i = 0; i < kHidden; ++i) {
        ASSERT_EQ(h.combined[t * kHidden + i], hierReference(r, t, i))
            << "rank " << r << " token " << t << " element " << i;
        ASSERT_NEAR(h.combined[t * kHidden + i], f.combined[t * kHidden + i],
                    1e-5f * (1 + std::fabs(f.combined[t * kHidden + i])));
      }
    flatD += f.dispatchLevel1;
    flatC += f.combineLevel1;
    hierD += h.dispatchLevel1;
    hierC += h.combineLevel1;
  }
  // Each token reaches 3 or 4 ranks of the other group: once across level 1 instead.
  std::printf("level-1 bytes, two-level over flat: dispatch %llu / %llu, combine %llu / %llu\n",
              static_cast<unsigned long long>(hierD), static_cast<unsigned long long>(flatD),
              static_cast<unsigned long long>(hierC), static_cast<unsigned long long>(flatC));
  EXPECT_GT(hierD, 0u);
  EXPECT_GT(hierC, 0u);
  EXPECT_LT(hierD * 2, flatD);
  EXPECT_LT(hierC * 2, flatC);
}

// STRATA_MOE_ROUTE=auto prices both routes (timing-only, the expected counts of a uniform
// routing) and takes the cheaper: at the decode shape the two-level route on hccs-2x8, where a
// token's 8 experts fall in 2 groups, and the flat route on cm384, where they fall in 8 of 48
// groups and aggregation saves few level-1 bytes for an extra level-0 hop. The route it takes is
// the cheaper one for an actual uniform routing too.
TEST(MoeRoute, AutoTakesTheCheaperRouteAtTheDecodeShape) {
  struct Case {
    const char* topo;
    int ranks, experts;
    const char* want;
  };
  for (const Case& c : {Case{"hccs-2x8", 16, 256, "moe-dispatch-hier"},
                        Case{"cm384", 384, 384, "moe-dispatch"}}) {
    SCOPED_TRACE(c.topo);
    constexpr size_t kDecodeTokens = 128;
    constexpr int kDecodeTopk = 8;
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    cfg.transport = "sim";
    cfg.topoFile = c.topo;
    const strataMoeConfig_t mc =
        moeConfig(kDecodeTokens, 7168, kDecodeTopk, c.experts, strataBfloat16);
    // Each token's 8 distinct experts drawn uniformly.
    std::mt19937 rng(7);
    std::vector<int32_t> idx(static_cast<size_t>(c.ranks) * kDecodeTokens * kDecodeTopk);
    std::vector<int32_t> pool(static_cast<size_t>(c.experts));
    for (size_t t = 0; t < idx.size() / kDecodeTopk; ++t) {
      std::iota(pool.begin(), pool.end(), 0);
      for (int j = 0; j < kDecodeTopk; ++j) {
        std::uniform_int_distribution<int> pick(j, c.experts - 1);
        std::swap(pool[static_cast<size_t>(j)], pool[static_cast<size_t>(pick(rng))]);
        idx[t * kDecodeTopk + static_cast<size_t>(j)] = pool[static_cast<size_t>(j)];
      }
    }
    const std::vector<size_t> numTokens(static_cast<size_t>(c.ranks), kDecodeTokens);
    auto endToEnd = [&](const char* route, std::string* algo) {
      const ScopedEnv env("STRATA_MOE_ROUTE", route);
      strataSimResult_t d{}, cb{};
      EXPECT_EQ(strataMoeSimTimingOnlyRouted(&cfg, &mc, idx.data(), numTokens.data(), &d, &cb),
                strataSuccess)
          << strataGetLastError(nullptr);
      *algo = d.algo;
      return d.simTimeUs + cb.simTimeUs;
    };
    std::string autoAlgo, flatAlgo, hierAlgo;
    const double autoUs = endToEnd(nullptr, &autoAlgo);
    const double flatUs = endToEnd("flat", &flatAlgo);
    const double hierUs = endToEnd("hier", &hierAlgo);
    EXPECT_EQ(autoAlgo, c.want);
    EXPECT_EQ(flatAlgo, "moe-dispatch");
    EXPECT_EQ(hierAlgo, "moe-dispatch-hier");
    EXPECT_EQ(autoUs, std::min(flatUs, hierUs)) << "flat " << flatUs << " us, hier " << hierUs;
  }
}

}  // namespace
}  // namespace strata::test
