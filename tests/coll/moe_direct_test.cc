// MoE dispatch and combine with direct puts into the peers' receive slots (shared-memory
// windows the buffer registers itself) against the FIFO path (STRATA_MOE_DIRECT=0): the same
// inputs give bit-identical rows, ids, weights, counts and combined outputs, pipelined and not,
// int8 and not, over several dispatches of one buffer (slot reuse); the statistics name the path
// that ran. Also a bad STRATA_MOE_DIRECT.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "coll/coll_harness.h"
#include "reduce/float_formats.h"

namespace strata::test {
namespace {

struct DirectCase {
  int ranks;
  int experts;
  int topk;
  strataMoeQuant_t quant;  // both legs
  size_t maxTokens;
  size_t hidden;
  size_t chunk;  // pipelined runs' chunk tokens
};

std::string caseName(const testing::TestParamInfo<DirectCase>& info) {
  const DirectCase& c = info.param;
  return "r" + std::to_string(c.ranks) + "_e" + std::to_string(c.experts) + "_k" +
         std::to_string(c.topk) + "_chunk" + std::to_string(c.chunk) + (c.quant ? "_int8" : "");
}

struct Input {
  size_t tokens = 0;
  std::vector<int32_t> ids;
  std::vector<float> weights;
  std::vector<uint16_t> x;  // bfloat16
};

// Dispatch `iter` of rank `rank`: distinct experts per token, some slots unused (-1).
Input makeInput(const DirectCase& c, int rank, int iter) {
  Input in;
  in.tokens = c.maxTokens - static_cast<size_t>((rank + iter) % 3);
  std::mt19937 rng(static_cast<uint32_t>(977 + 31 * rank + 7919 * iter));
  std::uniform_int_distribution<int> pick(0, c.experts - 1);
  std::uniform_real_distribution<float> w(0.05f, 1.0f), v(-2.0f, 2.0f);
  const size_t k = static_cast<size_t>(c.topk);
  in.ids.resize(in.tokens * k);
  in.weights.resize(in.tokens * k);
  for (size_t t = 0; t < in.tokens; ++t) {
    for (size_t j = 0; j < k;) {
      const int e = (t + j) % 11 == 5 ? -1 : pick(rng);
      bool dup = false;
      for (size_t q = 0; q < j && e >= 0; ++q) dup = dup || in.ids[t * k + q] == e;
      if (dup) continue;
      in.ids[t * k + j] = e;
      in.weights[t * k + j] = w(rng);
      ++j;
    }
  }
  in.x.resize(in.tokens * c.hidden);
  for (uint16_t& e : in.x) e = floatToBf16(v(rng));
  return in;
}

// The synthetic expert: local expert le scales a row by (1 + le % 3) and adds its first value.
void expert(const DirectCase& c, int le, const uint16_t* in, uint16_t* out, size_t rows) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t i = 0; i < c.hidden; ++i)
      out[r * c.hidden + i] =
          floatToBf16(static_cast<float>(1 + le % 3) * bf16ToFloat(in[r * c.hidden + i]) +
                      0.25f * bf16ToFloat(in[r * c.hidden]));
}

struct Outputs {
  std::vector<uint16_t> recvX, combined;
  std::vector<int32_t> recvIdx;
  std::vector<float> recvW;
  std::vector<int> counts;
  size_t rows = 0;
  std::string dispatchAlgo, combineAlgo;
};

// One dispatch + combine of `in` on buf: unpipelined (synchronous, one chunk), or pipelined
// (chunks of c.chunk on a stream, the expert per landed chunk, rows handed back as they are
// done).
void runOnce(const DirectCase& c, strataComm_t comm, strataMoeBuffer_t buf, const Input& in,
             bool pipelined, Outputs& o) {
  const size_t h = c.hidden, k = static_cast<size_t>(c.topk);
  const int lx = c.experts / c.ranks;
  size_t maxRows = 0;
  ASSERT_EQ(strataMoeGetMaxRecvTokens(buf, &maxRows), strataSuccess);
  o.recvX.assign(maxRows * h, 0xdead);
  o.recvIdx.assign(maxRows * k, -7);
  o.recvW.assign(maxRows * k, -7.0f);
  o.counts.assign(static_cast<size_t>(lx), -1);
  o.combined.assign(in.tokens * h, 0xbeef);
  std::vector<uint16_t> out(maxRows * h);
  ASSERT_EQ(strataMoeBufferSetChunkTokens(buf, pipelined ? c.chunk : c.maxTokens), strataSuccess);
  strataStream_t stream = nullptr;
  if (pipelined) {
    ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
  }
  strataMoeHandle_t handle{};
  ASSERT_EQ(strataMoeDispatch(buf, in.x.data(), strataBfloat16, in.tokens, in.ids.data(),
                              strataInt32, in.weights.data(), o.recvX.data(), o.recvIdx.data(),
                              o.recvW.data(), o.counts.data(), &o.rows, &handle, stream),
            strataSuccess)
      << strataGetLastError(comm);
  strataStats_t st{};
  if (!pipelined) {
    ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
    o.dispatchAlgo = st.lastAlgo;
    size_t row = 0;
    for (int le = 0; le < lx; ++le) {
      const auto n = static_cast<size_t>(o.counts[static_cast<size_t>(le)]);
      expert(c, le, o.recvX.data() + row * h, out.data() + row * h, n);
      row += n;
    }
    ASSERT_EQ(row, o.rows);
    ASSERT_EQ(strataMoeCombine(buf, &handle, out.data(), strataBfloat16, o.combined.data(),
                               nullptr),
              strataSuccess)
        << strataGetLastError(comm);
  } else {
    ASSERT_EQ(strataMoeCombinePipelined(buf, &handle, out.data(), strataBfloat16,
                                        o.combined.data(), stream),
              strataSuccess)
        << strataGetLastError(comm);
    for (;;) {
      strataMoeChunk_t ch{};
      ASSERT_EQ(strataMoeDispatchNextChunk(buf, -1, 1, &ch), strataSuccess)
          << strataGetLastError(comm);
      if (ch.numRows == 0) break;
      expert(c, ch.localExpert, o.recvX.data() + ch.firstRow * h, out.data() + ch.firstRow * h,
             ch.numRows);
      ASSERT_EQ(strataMoeCombineRowsReady(buf, &handle, ch.firstRow, ch.numRows), strataSuccess)
          << strataGetLastError(comm);
    }
    ASSERT_EQ(strataStreamSynchronize(stream), strataSuccess) << strataGetLastError(comm);
    EXPECT_EQ(strataStreamDestroy(stream), strataSuccess);
  }
  ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
  o.combineAlgo = st.lastAlgo;
}

// Sets STRATA_MOE_DIRECT for the buffers created while it lives (before the rank threads start),
// and restores it.
class DirectEnv {
 public:
  explicit DirectEnv(const char* value) {
    if (const char* old = std::getenv("STRATA_MOE_DIRECT")) saved_ = old, had_ = true;
    if (value)
      setenv("STRATA_MOE_DIRECT", value, 1);
    else
      unsetenv("STRATA_MOE_DIRECT");
  }
  ~DirectEnv() {
    if (had_)
      setenv("STRATA_MOE_DIRECT", saved_.c_str(), 1);
    else
      unsetenv("STRATA_MOE_DIRECT");
  }

 private:
  std::string saved_;
  bool had_ = false;
};

constexpr int kIters = 2;
constexpr int kModes = 2;  // unpipelined, pipelined

// Every rank's outputs, per iteration and mode, on one path.
using PathOutputs = std::vector<std::vector<Outputs>>;  // [rank][iter * kModes + mode]

PathOutputs runPath(const DirectCase& c, const char* env) {
  DirectEnv scoped(env);
  PathOutputs all(static_cast<size_t>(c.ranks));
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 60000;
  runRanksWith(c.ranks, cfg, [&](int rank, strataComm_t comm) {
    strataMoeConfig_t mc{};
    mc.maxTokensPerRank = c.maxTokens;
    mc.hidden = c.hidden;
    mc.topk = c.topk;
    mc.numExperts = c.experts;
    mc.dtype = strataBfloat16;
    mc.dispatchQuant = c.quant;
    mc.combineQuant = c.quant;
    strataMoeBuffer_t buf = nullptr;
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess) << strataGetLastError(comm);
    std::vector<Outputs>& mine = all[static_cast<size_t>(rank)];
    mine.resize(kIters * kModes);
    for (int iter = 0; iter < kIters; ++iter) {
      const Input in = makeInput(c, rank, iter);
      for (int mode = 0; mode < kModes; ++mode)
        runOnce(c, comm, buf, in, mode == 1, mine[static_cast<size_t>(iter * kModes + mode)]);
    }
    EXPECT_EQ(strataMoeBufferDestroy(buf), strataSuccess);
  });
  return all;
}

class MoeDirectTest : public testing::TestWithParam<DirectCase> {};

TEST_P(MoeDirectTest, DirectPutsAndFifoGiveIdenticalResults) {
  const DirectCase c = GetParam();
  const PathOutputs fifo = runPath(c, "0");
  const PathOutputs direct = runPath(c, nullptr);
  const size_t h = c.hidden, k = static_cast<size_t>(c.topk);
  for (size_t r = 0; r < fifo.size(); ++r) {
    ASSERT_EQ(fifo[r].size(), static_cast<size_t>(kIters * kModes));
    ASSERT_EQ(direct[r].size(), fifo[r].size());
    for (size_t i = 0; i < fifo[r].size(); ++i) {
      const Outputs& a = fifo[r][i];
      const Outputs& b = direct[r][i];
      const std::string where = "rank " + std::to_string(r) + " run " + std::to_string(i);
      EXPECT_EQ(a.combineAlgo, "moe-combine") << where;
      EXPECT_EQ(b.combineAlgo, "moe-combine-direct") << where;
      if (i % kModes == 0) {
        EXPECT_EQ(a.dispatchAlgo, "moe-dispatch") << where;
        EXPECT_EQ(b.dispatchAlgo, "moe-dispatch-direct") << where;
      }
      ASSERT_EQ(a.rows, b.rows) << where;
      EXPECT_EQ(a.counts, b.counts) << where;
      EXPECT_EQ(0, std::memcmp(a.recvX.data(), b.recvX.data(), a.rows * h * 2)) << where;
      EXPECT_EQ(0, std::memcmp(a.recvIdx.data(), b.recvIdx.data(), a.rows * k * 4)) << where;
      EXPECT_EQ(0, std::memcmp(a.recvW.data(), b.recvW.data(), a.rows * k * 4)) << where;
      EXPECT_EQ(a.combined, b.combined) << where;
      // Pipelined and unpipelined agree on each path too.
      if (i % kModes == 1) {
        EXPECT_EQ(b.combined, direct[r][i - 1].combined) << where;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sampled, MoeDirectTest,
    testing::Values(DirectCase{2, 16, 4, strataMoeQuantNone, 40, 64, 8},
                    DirectCase{2, 32, 8, strataMoeQuantInt8, 33, 96, 16},
                    DirectCase{3, 12, 3, strataMoeQuantInt8, 25, 32, 7},
                    DirectCase{4, 32, 8, strataMoeQuantNone, 21, 24, 1},
                    DirectCase{8, 64, 8, strataMoeQuantNone, 12, 48, 5}),
    caseName);

TEST(MoeDirectEnv, BadValueIsRefusedByName) {
  DirectEnv scoped("yes");
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 20000;
  runRanksWith(2, cfg, [&](int, strataComm_t comm) {
    strataMoeConfig_t mc{};
    mc.maxTokensPerRank = 4;
    mc.hidden = 8;
    mc.topk = 2;
    mc.numExperts = 4;
    mc.dtype = strataFloat32;
    strataMoeBuffer_t buf = nullptr;
    EXPECT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataInvalidArgument);
    EXPECT_EQ(buf, nullptr);
    const std::string msg = strataGetLastError(comm);
    EXPECT_NE(msg.find("STRATA_MOE_DIRECT='yes'"), std::string::npos) << msg;
  });
}

}  // namespace
}  // namespace strata::test
