// MoE dispatch and combine with ranks as threads, on shared memory and on the sim: identity
// experts return each token times the sum of its weights; random routing (uniform and Zipf,
// top-k 1-8, 8-256 experts, 1-8 ranks, int8 legs) matches a single-process reference; the
// layout matches a count by hand; every bad input is refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "coll/float_elements.h"
#include "coll/moe_harness.h"

namespace strata::test {
namespace {

struct MoeCase {
  int ranks;
  int experts;
  int topk;
  double zipf;  // 0: uniform routing; S > 0: expert e drawn with probability ~ 1 / (e + 1)^S
  strataMoeQuant_t dispatchQuant;
  strataMoeQuant_t combineQuant;
  strataDataType_t dtype;
  bool ids64;
  size_t maxTokens;
  size_t hidden;
  const char* topo;  // nullptr: shared memory; else the sim with this preset
};

std::string caseName(const testing::TestParamInfo<MoeCase>& info) {
  const MoeCase& c = info.param;
  std::string s = "r" + std::to_string(c.ranks) + "_e" + std::to_string(c.experts) + "_k" +
                  std::to_string(c.topk) + (c.zipf > 0 ? "_zipf" : "_uniform") + "_" +
                  dtypeName(c.dtype) + (c.dispatchQuant ? "_dq8" : "") +
                  (c.combineQuant ? "_cq8" : "") + (c.ids64 ? "_i64" : "_i32") +
                  (c.topo ? "_sim" : "_shm");
  return s;
}

// Every rank's routing and input, reproducible on every rank (the reference needs them all).
struct RankInput {
  size_t tokens = 0;
  std::vector<int64_t> ids;    // tokens x topk
  std::vector<float> weights;  // tokens x topk
  std::vector<uint8_t> x;      // tokens x hidden of dtype
};

RankInput makeInput(const MoeCase& c, int rank, bool holes) {
  RankInput in;
  in.tokens = c.maxTokens - static_cast<size_t>(rank % 3);  // ranks send different counts
  std::mt19937 rng(static_cast<uint32_t>(77 + 13 * rank + c.experts + c.topk));
  std::vector<double> p(static_cast<size_t>(c.experts), 1.0);
  if (c.zipf > 0)
    for (int e = 0; e < c.experts; ++e) p[static_cast<size_t>(e)] = 1.0 / std::pow(e + 1, c.zipf);
  std::discrete_distribution<int> pick(p.begin(), p.end());
  std::uniform_real_distribution<float> w(0.05f, 1.0f), v(-2.0f, 2.0f);
  const size_t k = static_cast<size_t>(c.topk);
  in.ids.resize(in.tokens * k);
  in.weights.resize(in.tokens * k);
  for (size_t t = 0; t < in.tokens; ++t) {
    std::vector<int> chosen;
    while (chosen.size() < k) {
      const int e = pick(rng);
      if (std::find(chosen.begin(), chosen.end(), e) == chosen.end()) chosen.push_back(e);
    }
    for (size_t j = 0; j < k; ++j) {
      in.ids[t * k + j] = chosen[j];
      in.weights[t * k + j] = w(rng);
    }
    if (holes && k > 1 && t % 5 == 2) in.ids[t * k + k - 1] = -1;  // an unused slot
  }
  in.x.resize(in.tokens * c.hidden * dtypeSize(c.dtype));
  for (size_t i = 0; i < in.tokens * c.hidden; ++i) storeAt(c.dtype, in.x.data(), i, v(rng));
  return in;
}

std::vector<uint8_t> idsAs(const RankInput& in, bool ids64) {
  std::vector<uint8_t> out(in.ids.size() * (ids64 ? 8 : 4));
  for (size_t i = 0; i < in.ids.size(); ++i) {
    if (ids64)
      reinterpret_cast<int64_t*>(out.data())[i] = in.ids[i];
    else
      reinterpret_cast<int32_t*>(out.data())[i] = static_cast<int32_t>(in.ids[i]);
  }
  return out;
}

// The synthetic expert: expert e scales its input by 1 + e % 3.
float expertScale(int e) { return 1.0f + static_cast<float>(e % 3); }

strataConfig_t configFor(const MoeCase& c) { return moeCommConfig(c.topo); }

strataMoeConfig_t moeConfigFor(const MoeCase& c) {
  return moeConfig(c.maxTokens, c.hidden, c.topk, c.experts, c.dtype, c.dispatchQuant,
                   c.combineQuant);
}

// Relative error of one rounding to dtype.
float roundingOf(strataDataType_t t) {
  return t == strataFloat32 ? 1e-6f : t == strataFloat16 ? 1.0f / 1024 : 1.0f / 128;
}

class MoeRoutingTest : public testing::TestWithParam<MoeCase> {};

TEST_P(MoeRoutingTest, DispatchAndCombineMatchASingleProcessReference) {
  const MoeCase c = GetParam();
  const ScopedEnv route("STRATA_MOE_ROUTE", pinnedMoeRoute(c.topo));
  const size_t k = static_cast<size_t>(c.topk);
  const size_t h = c.hidden;
  const size_t es = dtypeSize(c.dtype);
  const int lx = c.experts / c.ranks;
  std::vector<RankInput> all;
  for (int r = 0; r < c.ranks; ++r) all.push_back(makeInput(c, r, true));
  std::vector<double> dispatchClockUs(static_cast<size_t>(c.ranks));
  runRanksWith(c.ranks, configFor(c), [&](int rank, strataComm_t comm) {
    const strataMoeConfig_t mc = moeConfigFor(c);
    strataMoeBuffer_t buf = nullptr;
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess) << strataGetLastError(comm);
    size_t maxRows = 0;
    ASSERT_EQ(strataMoeGetMaxRecvTokens(buf, &maxRows), strataSuccess);
    EXPECT_EQ(maxRows, static_cast<size_t>(c.ranks) * c.maxTokens *
                           static_cast<size_t>(std::min(c.topk, lx)));
    const RankInput& in = all[static_cast<size_t>(rank)];
    const std::vector<uint8_t> ids = idsAs(in, c.ids64);
    const strataDataType_t idxType = c.ids64 ? strataInt64 : strataInt32;

    // The layout against a count by hand.
    std::vector<int> perRank(static_cast<size_t>(c.ranks)),
        perExpert(static_cast<size_t>(c.experts));
    std::vector<uint8_t> inRank(in.tokens * static_cast<size_t>(c.ranks));
    ASSERT_EQ(strataMoeGetLayout(buf, ids.data(), idxType, in.tokens, perRank.data(),
                                 perExpert.data(), inRank.data()),
              strataSuccess)
        << strataGetLastError(comm);
    std::vector<int> wantRank(static_cast<size_t>(c.ranks)),
        wantExpert(static_cast<size_t>(c.experts));
    for (size_t t = 0; t < in.tokens; ++t) {
      std::vector<int> seen(static_cast<size_t>(c.ranks));
      for (size_t j = 0; j < k; ++j) {
        const int64_t e = in.ids[t * k + j];
        if (e < 0) continue;
        ++wantExpert[static_cast<size_t>(e)];
        seen[static_cast<size_t>(e / lx)] = 1;
      }
      for (int r = 0; r < c.ranks; ++r) {
        wantRank[static_cast<size_t>(r)] += seen[static_cast<size_t>(r)];
        ASSERT_EQ(inRank[t * static_cast<size_t>(c.ranks) + static_cast<size_t>(r)],
                  seen[static_cast<size_t>(r)]);
      }
    }
    EXPECT_EQ(perRank, wantRank);
    EXPECT_EQ(perExpert, wantExpert);

    // Dispatch.
    std::vector<uint8_t> recvX(maxRows * h * es);
    std::vector<int32_t> recvIdx(maxRows * k);
    std::vector<float> recvW(maxRows * k);
    std::vector<int> counts(static_cast<size_t>(lx), -1);
    size_t rows = 0;
    strataMoeHandle_t handle{};
    ASSERT_EQ(strataMoeDispatch(buf, in.x.data(), c.dtype, in.tokens, ids.data(), idxType,
                                in.weights.data(), recvX.data(), recvIdx.data(), recvW.data(),
                                counts.data(), &rows, &handle, nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    strataStats_t st;
    ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
    dispatchClockUs[static_cast<size_t>(rank)] = st.simClockUs;

    // The reference: rows of local expert 0 first; within one, by source rank, then token.
    size_t row = 0;
    for (int le = 0; le < lx; ++le) {
      const int e = rank * lx + le;
      int count = 0;
      for (int s = 0; s < c.ranks; ++s) {
        const RankInput& src = all[static_cast<size_t>(s)];
        for (size_t t = 0; t < src.tokens; ++t) {
          for (size_t j = 0; j < k; ++j) {
            if (src.ids[t * k + j] != e) continue;
            ++count;
            ASSERT_LT(row, rows);
            for (size_t q = 0; q < k; ++q) {
              ASSERT_EQ(recvIdx[row * k + q], src.ids[t * k + q]) << "row " << row;
              ASSERT_EQ(recvW[row * k + q], src.weights[t * k + q]) << "row " << row;
            }
            float amax = 0;
            for (size_t i = 0; i < h; ++i)
              amax = std::max(amax, std::fabs(widenAt(c.dtype, src.x.data(), t * h + i)));
            const float bound = c.dispatchQuant == strataMoeQuantInt8
                                    ? amax / 127 * 0.5001f + amax * roundingOf(c.dtype)
                                    : 0.0f;
            for (size_t i = 0; i < h; ++i) {
              const float want = widenAt(c.dtype, src.x.data(), t * h + i);
              const float got = widenAt(c.dtype, recvX.data(), row * h + i);
              ASSERT_LE(std::fabs(got - want), bound)
                  << "rank " << rank << " row " << row << " (rank " << s << "'s token " << t
                  << ") element " << i;
            }
            ++row;
          }
        }
      }
      EXPECT_EQ(counts[static_cast<size_t>(le)], count) << "local expert " << le;
    }
    EXPECT_EQ(rows, row);

    // The experts, then combine.
    std::vector<uint8_t> expertOut(std::max<size_t>(rows, 1) * h * es);
    size_t r0 = 0;
    for (int le = 0; le < lx; ++le) {
      const float f = expertScale(rank * lx + le);
      for (int n = 0; n < counts[static_cast<size_t>(le)]; ++n, ++r0)
        for (size_t i = 0; i < h; ++i)
          storeAt(c.dtype, expertOut.data(), r0 * h + i,
                  f * widenAt(c.dtype, recvX.data(), r0 * h + i));
    }
    std::vector<uint8_t> combined(std::max<size_t>(in.tokens, 1) * h * es);
    ASSERT_EQ(strataMoeCombine(buf, &handle, expertOut.data(), c.dtype, combined.data(), nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    const float rnd = roundingOf(c.dtype);
    for (size_t t = 0; t < in.tokens; ++t) {
      float amax = 0;
      for (size_t i = 0; i < h; ++i)
        amax = std::max(amax, std::fabs(widenAt(c.dtype, in.x.data(), t * h + i)));
      double mass = 0;  // sum of |weight x scale|: how far the errors can add up
      for (size_t j = 0; j < k; ++j)
        if (in.ids[t * k + j] >= 0)
          mass += in.weights[t * k + j] * expertScale(static_cast<int>(in.ids[t * k + j]));
      double rel = 4 * rnd;  // expert output, partial sum and result roundings
      if (c.dispatchQuant == strataMoeQuantInt8) rel += 0.5 / 127;
      if (c.combineQuant == strataMoeQuantInt8) rel += 0.5 / 127 * c.ranks;
      const double bound = mass * amax * rel + 1e-6;
      for (size_t i = 0; i < h; ++i) {
        double want = 0;
        for (size_t j = 0; j < k; ++j) {
          const int64_t e = in.ids[t * k + j];
          if (e < 0) continue;
          want += static_cast<double>(in.weights[t * k + j]) * expertScale(static_cast<int>(e)) *
                  widenAt(c.dtype, in.x.data(), t * h + i);
        }
        ASSERT_NEAR(widenAt(c.dtype, combined.data(), t * h + i), want, bound)
            << "rank " << rank << " token " << t << " element " << i;
      }
    }
    EXPECT_EQ(strataMoeBufferDestroy(buf), strataSuccess);
  });
  if (!c.topo) return;
  // Timing-only evaluation of the same routing, token by token, gives the sim's dispatch time
  // (on the same route: hccs-2x8's two-level one, pinned above).
  std::vector<int32_t> slotIdx(static_cast<size_t>(c.ranks) * c.maxTokens * k, -1);
  std::vector<size_t> numTokens(static_cast<size_t>(c.ranks));
  for (int s = 0; s < c.ranks; ++s) {
    const RankInput& in = all[static_cast<size_t>(s)];
    numTokens[static_cast<size_t>(s)] = in.tokens;
    for (size_t q = 0; q < in.tokens * k; ++q)
      slotIdx[static_cast<size_t>(s) * c.maxTokens * k + q] = static_cast<int32_t>(in.ids[q]);
  }
  const strataConfig_t cfg = configFor(c);
  const strataMoeConfig_t mc = moeConfigFor(c);
  strataSimResult_t d{}, cb{};
  ASSERT_EQ(strataMoeSimTimingOnlyRouted(&cfg, &mc, slotIdx.data(), numTokens.data(), &d, &cb),
            strataSuccess)
      << strataGetLastError(nullptr);
  const double simMax = *std::max_element(dispatchClockUs.begin(), dispatchClockUs.end());
  EXPECT_GT(d.simTimeUs, 0);
  EXPECT_NEAR(d.simTimeUs, simMax, 1e-6 * simMax) << "timing-only vs the sim transport";
  EXPECT_GT(cb.simTimeUs, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Sampled, MoeRoutingTest,
    testing::Values(MoeCase{1, 8, 2, 0, strataMoeQuantNone, strataMoeQuantNone, strataFloat32,
                            false, 5, 16, nullptr},
                    MoeCase{2, 8, 1, 0, strataMoeQuantNone, strataMoeQuantNone, strataBfloat16,
                            true, 17, 33, nullptr},
                    MoeCase{3, 12, 3, 1.2, strataMoeQuantInt8, strataMoeQuantNone, strataFloat16,
                            false, 9, 64, nullptr},
                    MoeCase{4, 256, 8, 1.2, strataMoeQuantNone, strataMoeQuantInt8, strataBfloat16,
                            false, 16, 32, nullptr},
                    MoeCase{4, 16, 8, 0, strataMoeQuantNone, strataMoeQuantNone, strataFloat32,
                            true, 11, 8, nullptr},
                    MoeCase{7, 56, 4, 0, strataMoeQuantNone, strataMoeQuantNone, strataBfloat16,
                            false, 10, 24, nullptr},
                    MoeCase{8, 64, 8, 0, strataMoeQuantInt8, strataMoeQuantInt8, strataBfloat16,
                            true, 12, 48, nullptr},
                    MoeCase{8, 256, 6, 1.2, strataMoeQuantNone, strataMoeQuantNone, strataFloat32,
                            false, 8, 16, "hccs-8"},
                    MoeCase{2, 256, 8, 1.2, strataMoeQuantInt8, strataMoeQuantNone, strataBfloat16,
                            false, 128, 512, nullptr},
                    MoeCase{16, 64, 8, 1.2, strataMoeQuantNone, strataMoeQuantNone, strataFloat32,
                            false, 9, 16, "hccs-2x8"},
                    MoeCase{16, 32, 3, 0, strataMoeQuantInt8, strataMoeQuantInt8, strataBfloat16,
                            true, 7, 24, "hccs-2x8"}),
    caseName);

TEST(MoeDispatch, IdentityExpertsReturnTokenTimesSumOfWeights) {
  for (int ranks : {1, 2, 4}) {
    const MoeCase c{
        ranks, 4 * ranks, 3,  0,      strataMoeQuantNone, strataMoeQuantNone, strataFloat32,
        false, 20,        40, nullptr};
    std::vector<RankInput> all;
    for (int r = 0; r < ranks; ++r) all.push_back(makeInput(c, r, false));
    runRanksWith(ranks, configFor(c), [&](int rank, strataComm_t comm) {
      const strataMoeConfig_t mc = moeConfigFor(c);
      strataMoeBuffer_t buf = nullptr;
      ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess);
      size_t maxRows = 0;
      ASSERT_EQ(strataMoeGetMaxRecvTokens(buf, &maxRows), strataSuccess);
      const RankInput& in = all[static_cast<size_t>(rank)];
      const std::vector<uint8_t> ids = idsAs(in, false);
      std::vector<float> recvX(maxRows * c.hidden), out(in.tokens * c.hidden);
      std::vector<int> counts(static_cast<size_t>(c.experts / ranks));
      size_t rows = 0;
      strataMoeHandle_t handle{};
      ASSERT_EQ(strataMoeDispatch(buf, in.x.data(), strataFloat32, in.tokens, ids.data(),
                                  strataInt32, in.weights.data(), recvX.data(), nullptr, nullptr,
                                  counts.data(), &rows, &handle, nullptr),
                strataSuccess)
          << strataGetLastError(comm);
      // Identity experts: the expert output is the received input itself.
      ASSERT_EQ(strataMoeCombine(buf, &handle, recvX.data(), strataFloat32, out.data(), nullptr),
                strataSuccess)
          << strataGetLastError(comm);
      const auto* x = reinterpret_cast<const float*>(in.x.data());
      for (size_t t = 0; t < in.tokens; ++t) {
        float sum = 0;
        for (int j = 0; j < c.topk; ++j) sum += in.weights[t * 3 + static_cast<size_t>(j)];
        for (size_t i = 0; i < c.hidden; ++i)
          ASSERT_NEAR(out[t * c.hidden + i], x[t * c.hidden + i] * sum,
                      1e-5f * std::fabs(x[t * c.hidden + i] * sum) + 1e-6f)
              << ranks << " ranks, rank " << rank << " token " << t;
      }
      EXPECT_EQ(strataMoeBufferDestroy(buf), strataSuccess);
    });
  }
}

TEST(MoeArgs, BadInputsAreRefusedByName) {
  runRanks(2, "", [](int rank, strataComm_t comm) {
    const strataMoeConfig_t mc = moeConfig(4, 8, 2, 8, strataBfloat16);
    strataMoeBuffer_t buf = nullptr;
    strataMoeConfig_t bad = mc;
    bad.topk = 0;
    expectError(strataMoeBufferCreate(comm, &bad, &buf), strataInvalidArgument, comm,
                {"config.topk 0"});
    bad.topk = 9;
    expectError(strataMoeBufferCreate(comm, &bad, &buf), strataInvalidArgument, comm,
                {"config.topk 9", "numExperts = 8"});
    bad = mc;
    bad.numExperts = 7;
    bad.topk = 2;
    expectError(strataMoeBufferCreate(comm, &bad, &buf), strataInvalidArgument, comm,
                {"numExperts 7", "multiple"});
    bad = mc;
    bad.dtype = strataInt32;
    expectError(strataMoeBufferCreate(comm, &bad, &buf), strataInvalidArgument, comm,
                {"config.dtype"});
    bad = mc;
    bad.maxTokensPerRank = 0;
    expectError(strataMoeBufferCreate(comm, &bad, &buf), strataInvalidArgument, comm,
                {"maxTokensPerRank"});
    expectError(strataMoeBufferCreate(comm, nullptr, &buf), strataInvalidArgument, comm,
                {"config is NULL"});
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess) << strataGetLastError(comm);

    std::vector<uint16_t> x(5 * 8), recvX(2 * 4 * 2 * 8), out(5 * 8);
    std::vector<int32_t> ids = {0, 1, 2, 3, 4, 5, 6, 7, 0, 7};
    std::vector<float> w(10, 0.5f);
    std::vector<int> counts(4);
    size_t rows = 0;
    strataMoeHandle_t handle{};
    auto dispatch = [&](const void* idx, strataDataType_t idxType, size_t tokens,
                        const float* weights, strataDataType_t xType) {
      return strataMoeDispatch(buf, x.data(), xType, tokens, idx, idxType, weights, recvX.data(),
                               nullptr, nullptr, counts.data(), &rows, &handle, nullptr);
    };
    std::vector<int32_t> outOfRange = ids;
    outOfRange[3] = 8;
    expectError(dispatch(outOfRange.data(), strataInt32, 4, w.data(), strataBfloat16),
                strataInvalidArgument, comm, {"topkIdx[1][1] = 8", "[0, 8)"});
    outOfRange[3] = -2;
    expectError(
        strataMoeGetLayout(buf, outOfRange.data(), strataInt32, 4, nullptr, nullptr, nullptr),
        strataInvalidArgument, comm, {"topkIdx[1][1] = -2"});
    expectError(dispatch(ids.data(), strataInt32, 5, w.data(), strataBfloat16),
                strataInvalidArgument, comm, {"numTokens 5", "maxTokensPerRank 4"});
    expectError(dispatch(ids.data(), strataInt32, 4, nullptr, strataBfloat16),
                strataInvalidArgument, comm, {"topkWeights is NULL"});
    expectError(dispatch(ids.data(), strataInt32, 4, w.data(), strataFloat16),
                strataInvalidArgument, comm, {"xType", "bfloat16"});
    expectError(dispatch(ids.data(), strataFloat32, 4, w.data(), strataBfloat16),
                strataInvalidArgument, comm, {"idxType"});
    expectError(strataMoeCombine(buf, nullptr, out.data(), strataBfloat16, out.data(), nullptr),
                strataInvalidArgument, comm, {"handle is NULL"});

    // Two good dispatches: the first one's handle is stale afterwards.
    ASSERT_EQ(dispatch(ids.data(), strataInt32, 4, w.data(), strataBfloat16), strataSuccess)
        << strataGetLastError(comm);
    strataMoeHandle_t first = handle;
    ASSERT_EQ(dispatch(ids.data(), strataInt32, 3, w.data(), strataBfloat16), strataSuccess)
        << strataGetLastError(comm);
    expectError(strataMoeCombine(buf, &handle, recvX.data(), strataFloat32, out.data(), nullptr),
                strataInvalidArgument, comm, {"type", "bfloat16"});
    ASSERT_EQ(strataMoeCombine(buf, &handle, recvX.data(), strataBfloat16, out.data(), nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    ASSERT_EQ(dispatch(ids.data(), strataInt32, 2, w.data(), strataBfloat16), strataSuccess);
    expectError(strataMoeCombine(buf, &first, recvX.data(), strataBfloat16, out.data(), nullptr),
                strataInvalidUsage, comm, {"earlier dispatch"});
    ASSERT_EQ(strataMoeCombine(buf, &handle, recvX.data(), strataBfloat16, out.data(), nullptr),
              strataSuccess);
    (void)rank;
    EXPECT_EQ(strataMoeBufferDestroy(buf), strataSuccess);
    EXPECT_EQ(strataMoeBufferDestroy(nullptr), strataInvalidArgument);
  });
}

// Zipf(1.2) expected load of 64 experts.
std::vector<double> zipfLoad(int experts, double s) {
  std::vector<double> load(static_cast<size_t>(experts));
  for (int e = 0; e < experts; ++e) load[static_cast<size_t>(e)] = 1.0 / std::pow(e + 1, s);
  return load;
}

TEST(MoePlacement, EplbBalancesZipfLoadWithReplicas) {
  const int experts = 64, ranks = 8, perRank = 9;
  const std::vector<double> load = zipfLoad(experts, 1.2);
  std::vector<int32_t> slots(static_cast<size_t>(ranks * perRank), -1);
  double before = 0, after = 0;
  ASSERT_EQ(strataMoePlacementCompute(load.data(), experts, ranks, perRank, slots.data(), &before,
                                      &after),
            strataSuccess)
      << strataGetLastError(nullptr);
  std::printf("EPLB Zipf(1.2), 64 experts, 8 ranks x 9 slots: max/mean %.3f -> %.3f\n", before,
              after);
  EXPECT_GT(before, 2.0);
  EXPECT_LE(after, 1.15);
  // Every expert has a slot; the hottest has a replica; the rank loads add up to max/mean.
  std::vector<int> replicas(experts);
  for (int32_t e : slots) {
    ASSERT_GE(e, 0);
    ASSERT_LT(e, experts);
    ++replicas[static_cast<size_t>(e)];
  }
  for (int e = 0; e < experts; ++e) EXPECT_GE(replicas[static_cast<size_t>(e)], 1);
  EXPECT_GT(replicas[0], 1);
  std::vector<double> rankLoad(ranks);
  for (size_t i = 0; i < slots.size(); ++i)
    rankLoad[i / perRank] +=
        load[static_cast<size_t>(slots[i])] / replicas[static_cast<size_t>(slots[i])];
  double total = 0, mx = 0;
  for (double l : rankLoad) {
    total += l;
    mx = std::max(mx, l);
  }
  EXPECT_NEAR(mx / (total / ranks), after, 1e-9);

  expectError(
      strataMoePlacementCompute(load.data(), experts, ranks, 7, slots.data(), nullptr, nullptr),
      strataInvalidArgument, nullptr, {"56 slots cannot hold 64 experts"});
  std::vector<double> bad = load;
  bad[3] = -1;
  expectError(strataMoePlacementCompute(bad.data(), experts, ranks, perRank, slots.data(), nullptr,
                                        nullptr),
              strataInvalidArgument, nullptr, {"expertLoad[3]"});
}

class MoePlacementDispatch : public testing::TestWithParam<const char*> {};

// Zipf routing on 8 ranks with one spare slot per rank: every token lands on a replica of its
// expert, on its own rank when that rank holds one, otherwise on candidates[rank % n]; identity
// experts still return token x sum of weights; rows per rank balance as the helper predicts.
TEST_P(MoePlacementDispatch, TokensLandOnReplicasPreferringTheirOwnRank) {
  const int ranks = 8, experts = 64, perRank = 9, numSlots = ranks * perRank;
  const MoeCase c{ranks,         experts, 6,  1.2, strataMoeQuantNone, strataMoeQuantNone,
                  strataFloat32, false,   24, 16,  GetParam()};
  const size_t k = static_cast<size_t>(c.topk);
  std::vector<RankInput> all;
  std::vector<double> load(static_cast<size_t>(experts));
  for (int r = 0; r < ranks; ++r) {
    all.push_back(makeInput(c, r, false));
    for (int64_t e : all.back().ids) load[static_cast<size_t>(e)] += 1;
  }
  std::vector<int32_t> slots(static_cast<size_t>(numSlots));
  ASSERT_EQ(strataMoePlacementCompute(load.data(), experts, ranks, perRank, slots.data(), nullptr,
                                      nullptr),
            strataSuccess);
  // The reference route, and rows per (rank, local slot), before and after.
  std::vector<int> want(static_cast<size_t>(numSlots)), rowsBefore(ranks), rowsAfter(ranks);
  for (int s = 0; s < ranks; ++s) {
    const RankInput& in = all[static_cast<size_t>(s)];
    for (int64_t e : in.ids) {
      std::vector<int> own, any;
      for (int i = 0; i < numSlots; ++i) {
        if (slots[static_cast<size_t>(i)] != e) continue;
        any.push_back(i);
        if (i / perRank == s) own.push_back(i);
      }
      const std::vector<int>& from = own.empty() ? any : own;  // one host: all are "same host"
      const int slot = from[static_cast<size_t>(s) % from.size()];
      ++want[static_cast<size_t>(slot)];
      ++rowsAfter[static_cast<size_t>(slot / perRank)];
      ++rowsBefore[static_cast<size_t>(e / (experts / ranks))];
    }
  }
  auto maxMean = [](const std::vector<int>& v) {
    double t = 0, m = 0;
    for (int x : v) {
      t += x;
      m = std::max(m, static_cast<double>(x));
    }
    return m / (t / static_cast<double>(v.size()));
  };
  std::printf("rows per rank max/mean: %.3f without placement, %.3f with\n", maxMean(rowsBefore),
              maxMean(rowsAfter));
  EXPECT_LT(maxMean(rowsAfter), maxMean(rowsBefore));
  runRanksWith(ranks, configFor(c), [&](int rank, strataComm_t comm) {
    strataMoeConfig_t mc = moeConfigFor(c);
    mc.numSlots = numSlots;
    strataMoeBuffer_t buf = nullptr;
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess) << strataGetLastError(comm);
    const RankInput& in = all[static_cast<size_t>(rank)];
    const std::vector<uint8_t> ids = idsAs(in, false);
    size_t maxRows = 0;
    ASSERT_EQ(strataMoeGetMaxRecvTokens(buf, &maxRows), strataSuccess);
    std::vector<float> recvX(maxRows * c.hidden), out(in.tokens * c.hidden);
    std::vector<int32_t> recvIdx(maxRows * k);
    std::vector<int> counts(perRank);
    size_t rows = 0;
    strataMoeHandle_t handle{};
    auto dispatch = [&] {
      return strataMoeDispatch(buf, in.x.data(), strataFloat32, in.tokens, ids.data(), strataInt32,
                               in.weights.data(), recvX.data(), recvIdx.data(), nullptr,
                               counts.data(), &rows, &handle, nullptr);
    };
    expectError(dispatch(), strataInvalidUsage, comm, {"no placement"});
    std::vector<int32_t> badSlots = slots;
    badSlots[5] = experts;
    expectError(strataMoeBufferSetPlacement(buf, badSlots.data(), numSlots), strataInvalidArgument,
                comm, {"slotExpert[5] = 64"});
    ASSERT_EQ(strataMoeBufferSetPlacement(buf, slots.data(), numSlots), strataSuccess)
        << strataGetLastError(comm);
    ASSERT_EQ(dispatch(), strataSuccess) << strataGetLastError(comm);
    size_t row = 0;
    for (int ls = 0; ls < perRank; ++ls) {
      const int slot = rank * perRank + ls;
      EXPECT_EQ(counts[static_cast<size_t>(ls)], want[static_cast<size_t>(slot)])
          << "slot " << slot;
      for (int n = 0; n < counts[static_cast<size_t>(ls)]; ++n, ++row) {
        const int32_t* rowIds = recvIdx.data() + row * k;
        EXPECT_NE(std::find(rowIds, rowIds + k, slots[static_cast<size_t>(slot)]), rowIds + k)
            << "row " << row << " is not routed to expert " << slots[static_cast<size_t>(slot)];
      }
    }
    ASSERT_EQ(strataMoeCombine(buf, &handle, recvX.data(), strataFloat32, out.data(), nullptr),
              strataSuccess);
    const auto* x = reinterpret_cast<const float*>(in.x.data());
    for (size_t t = 0; t < in.tokens; ++t) {
      float sum = 0;
      for (size_t j = 0; j < k; ++j) sum += in.weights[t * k + j];
      for (size_t i = 0; i < c.hidden; ++i)
        ASSERT_NEAR(out[t * c.hidden + i], x[t * c.hidden + i] * sum,
                    1e-5f * std::fabs(x[t * c.hidden + i] * sum) + 1e-6f);
    }
    EXPECT_EQ(strataMoeBufferDestroy(buf), strataSuccess);
  });
}

INSTANTIATE_TEST_SUITE_P(Transports, MoePlacementDispatch, testing::Values(nullptr, "hccs-8"),
                         [](const auto& info) { return std::string(info.param ? "sim" : "shm"); });

}  // namespace
}  // namespace strata::test
