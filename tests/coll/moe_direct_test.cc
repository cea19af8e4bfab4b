// MoE dispatch and combine with direct puts into the peers' receive slots (shared-memory
// windows the buffer registers itself) against the FIFO path (STRATA_MOE_DIRECT=0): the same
// inputs give bit-identical rows, ids, weights, counts and combined outputs, pipelined and not,
// int8 and not, over several dispatches of one buffer (slot reuse); the statistics name the path
// that ran. Also a bad STRATA_MOE_DIRECT.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "coll/moe_harness.h"

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

// Dispatch `iter` of rank `rank`: distinct experts per token, some slots unused (-1).
MoeBf16Input makeInput(const DirectCase& c, int rank, int iter) {
  return makeMoeBf16Input(c.maxTokens - static_cast<size_t>((rank + iter) % 3), c.experts, c.topk,
                          c.hidden, static_cast<uint32_t>(977 + 31 * rank + 7919 * iter), true);
}

struct Outputs : MoeBf16Outputs {
  std::string dispatchAlgo, combineAlgo;
};

// One dispatch + combine of `in` on buf: unpipelined (synchronous, one chunk), or pipelined
// (chunks of c.chunk on a stream, the expert per landed chunk, rows handed back as they are
// done).
void runOnce(const DirectCase& c, strataComm_t comm, strataMoeBuffer_t buf, const MoeBf16Input& in,
             bool pipelined, Outputs& o) {
  size_t maxRows = 0;
  ASSERT_EQ(strataMoeGetMaxRecvTokens(buf, &maxRows), strataSuccess);
  o.reset(maxRows, c.hidden, c.topk, c.experts / c.ranks, in.tokens);
  ASSERT_EQ(strataMoeBufferSetChunkTokens(buf, pipelined ? c.chunk : c.maxTokens), strataSuccess);
  strataStats_t st{};
  if (!pipelined) {
    strataMoeHandle_t handle{};
    ASSERT_NO_FATAL_FAILURE(dispatchMoeBf16(buf, comm, in, o, &handle, nullptr));
    ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
    o.dispatchAlgo = st.lastAlgo;
    ASSERT_NO_FATAL_FAILURE(runExpertsThenCombine(buf, comm, &handle, c.hidden, o));
  } else {
    ASSERT_NO_FATAL_FAILURE(
        runPipelined(buf, comm, in, maxRows, c.hidden, false, o, [](const strataMoeChunk_t&) {}));
  }
  ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
  o.combineAlgo = st.lastAlgo;
}

constexpr int kIters = 2;
constexpr int kModes = 2;  // unpipelined, pipelined

// Every rank's outputs, per iteration and mode, on one path.
using PathOutputs = std::vector<std::vector<Outputs>>;  // [rank][iter * kModes + mode]

// With STRATA_MOE_DIRECT set to env (nullptr: unset) for the buffers created.
PathOutputs runPath(const DirectCase& c, const char* env) {
  const ScopedEnv scoped("STRATA_MOE_DIRECT", env);
  PathOutputs all(static_cast<size_t>(c.ranks));
  runRanksWith(c.ranks, moeCommConfig(nullptr), [&](int rank, strataComm_t comm) {
    const strataMoeConfig_t mc =
        moeConfig(c.maxTokens, c.hidden, c.topk, c.experts, strataBfloat16, c.quant, c.quant);
    strataMoeBuffer_t buf = nullptr;
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess) << strataGetLastError(comm);
    std::vector<Outputs>& mine = all[static_cast<size_t>(rank)];
    mine.resize(kIters * kModes);
    for (int iter = 0; iter < kIters; ++iter) {
      const MoeBf16Input in = makeInput(c, rank, iter);
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
      ASSERT_NO_FATAL_FAILURE(expectSameOutputs(a, b, c.hidden, c.topk, where));
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
  const ScopedEnv scoped("STRATA_MOE_DIRECT", "yes");
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 20000;
  runRanksWith(2, cfg, [&](int, strataComm_t comm) {
    const strataMoeConfig_t mc = moeConfig(4, 8, 2, 4, strataFloat32);
    strataMoeBuffer_t buf = nullptr;
    EXPECT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataInvalidArgument);
    EXPECT_EQ(buf, nullptr);
    const std::string msg = strataGetLastError(comm);
    EXPECT_NE(msg.find("STRATA_MOE_DIRECT='yes'"), std::string::npos) << msg;
  });
}

}  // namespace
}  // namespace strata::test
