// Token-grained MoE pipelining: a dispatch in small chunks on a stream, consumed chunk by chunk
// (strataMoeDispatchNextChunk, waiting and polling) with the expert's work done per chunk and
// handed back to a pipelined combine (strataMoeCombineRowsReady), gives bit-identical rows,
// counts and combined outputs to a one-chunk synchronous dispatch and combine, on shared memory
// and on the sim. Also the chunk calls' argument checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "coll/moe_harness.h"

namespace strata::test {
namespace {

struct PipelineCase {
  int ranks;
  int experts;
  int topk;
  strataMoeQuant_t quant;  // both legs
  size_t maxTokens;
  size_t hidden;
  size_t chunk;
  bool poll;         // consume with wait = 0
  const char* topo;  // nullptr: shared memory; else the sim with this preset
};

std::string caseName(const testing::TestParamInfo<PipelineCase>& info) {
  const PipelineCase& c = info.param;
  return "r" + std::to_string(c.ranks) + "_e" + std::to_string(c.experts) + "_k" +
         std::to_string(c.topk) + "_chunk" + std::to_string(c.chunk) + (c.quant ? "_int8" : "") +
         (c.poll ? "_poll" : "_wait") + (c.topo ? "_sim" : "_shm");
}

MoeBf16Input makeInput(const PipelineCase& c, int rank) {
  return makeMoeBf16Input(c.maxTokens - static_cast<size_t>(rank % 3), c.experts, c.topk, c.hidden,
                          static_cast<uint32_t>(1234 + 31 * rank), false);
}

class MoePipelineTest : public testing::TestWithParam<PipelineCase> {};

TEST_P(MoePipelineTest, PipelinedAndUnpipelinedRunsAreIdentical) {
  const PipelineCase c = GetParam();
  const ScopedEnv route("STRATA_MOE_ROUTE", pinnedMoeRoute(c.topo));
  const int lx = c.experts / c.ranks;
  runRanksWith(c.ranks, moeCommConfig(c.topo), [&](int rank, strataComm_t comm) {
    const strataMoeConfig_t mc =
        moeConfig(c.maxTokens, c.hidden, c.topk, c.experts, strataBfloat16, c.quant, c.quant);
    strataMoeBuffer_t buf = nullptr;
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess) << strataGetLastError(comm);
    size_t maxRows = 0, chunk = 0;
    ASSERT_EQ(strataMoeGetMaxRecvTokens(buf, &maxRows), strataSuccess);
    ASSERT_EQ(strataMoeBufferGetChunkTokens(buf, &chunk), strataSuccess);
    EXPECT_EQ(chunk, std::min<size_t>(c.maxTokens, std::max<size_t>(16, (c.maxTokens + 3) / 4)));
    const MoeBf16Input in = makeInput(c, rank);

    // Unpipelined: one chunk, synchronous, experts over all rows at once.
    MoeBf16Outputs plain;
    plain.reset(maxRows, c.hidden, c.topk, lx, in.tokens);
    ASSERT_EQ(strataMoeBufferSetChunkTokens(buf, c.maxTokens), strataSuccess);
    strataMoeHandle_t handle{};
    ASSERT_NO_FATAL_FAILURE(dispatchMoeBf16(buf, comm, in, plain, &handle, nullptr));
    ASSERT_NO_FATAL_FAILURE(runExpertsThenCombine(buf, comm, &handle, c.hidden, plain));

    // Pipelined: small chunks on a stream; the expert runs per chunk as it lands and hands its
    // rows back to a combine already queued behind the dispatch.
    MoeBf16Outputs piped;
    piped.reset(maxRows, c.hidden, c.topk, lx, in.tokens);
    ASSERT_EQ(strataMoeBufferSetChunkTokens(buf, c.chunk), strataSuccess);
    ASSERT_EQ(strataMoeBufferGetChunkTokens(buf, &chunk), strataSuccess);
    EXPECT_EQ(chunk, c.chunk);
    std::vector<int> seen(maxRows, 0);
    size_t handedOut = 0, chunks = 0;
    ASSERT_NO_FATAL_FAILURE(runPipelined(
        buf, comm, in, maxRows, c.hidden, c.poll, piped, [&](const strataMoeChunk_t& ch) {
          ++chunks;
          ASSERT_GE(ch.localExpert, 0);
          ASSERT_LT(ch.localExpert, lx);
          for (size_t q = ch.firstRow; q < ch.firstRow + ch.numRows; ++q) {
            ASSERT_LT(q, maxRows);
            ASSERT_EQ(seen[q]++, 0) << "row " << q << " handed out twice";
          }
          handedOut += ch.numRows;
        }));
    EXPECT_EQ(handedOut, plain.rows);
    if (plain.rows > 2 * c.chunk) {
      EXPECT_GT(chunks, 1u);
    }
    // A further call says every row has been handed out.
    strataMoeChunk_t done{};
    EXPECT_EQ(strataMoeDispatchNextChunk(buf, 0, 1, &done), strataSuccess);
    EXPECT_EQ(done.numRows, 0u);

    expectSameOutputs(piped, plain, c.hidden, c.topk, "rank " + std::to_string(rank));
    EXPECT_EQ(strataMoeBufferDestroy(buf), strataSuccess);
  });
}

INSTANTIATE_TEST_SUITE_P(
    Sampled, MoePipelineTest,
    testing::Values(PipelineCase{1, 8, 2, strataMoeQuantNone, 20, 16, 3, false, nullptr},
                    PipelineCase{2, 16, 4, strataMoeQuantNone, 40, 64, 4, false, nullptr},
                    PipelineCase{3, 12, 3, strataMoeQuantInt8, 25, 32, 7, true, nullptr},
                    PipelineCase{4, 32, 8, strataMoeQuantNone, 33, 24, 1, true, nullptr},
                    PipelineCase{8, 64, 8, strataMoeQuantInt8, 24, 32, 5, false, "hccs-8"},
                    PipelineCase{16, 64, 8, strataMoeQuantNone, 22, 16, 4, false, "hccs-2x8"},
                    PipelineCase{16, 32, 3, strataMoeQuantInt8, 19, 24, 6, true, "hccs-2x8"}),
    caseName);

TEST(MoePipelineArgs, BadChunkCallsAreRefusedByName) {
  runRanks(2, "", [](int rank, strataComm_t comm) {
    const strataMoeConfig_t mc = moeConfig(8, 4, 2, 4, strataFloat32);
    strataMoeBuffer_t buf = nullptr;
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess);
    strataMoeChunk_t ch{};
    expectError(strataMoeDispatchNextChunk(buf, -1, 1, &ch), strataInvalidUsage, comm,
                {"has not dispatched yet"});
    expectError(strataMoeDispatchNextChunk(buf, 2, 1, &ch), strataInvalidArgument, comm,
                {"localExpert 2 is outside [-1, 2)"});
    expectError(strataMoeDispatchNextChunk(buf, -1, 1, nullptr), strataInvalidArgument, comm,
                {"chunk is NULL"});
    expectError(strataMoeBufferGetChunkTokens(buf, nullptr), strataInvalidArgument, comm,
                {"chunkTokens is NULL"});
    expectError(strataMoeBufferSetChunkTokens(nullptr, 4), strataInvalidArgument, nullptr,
                {"buffer is NULL"});
    size_t chunk = 0;
    ASSERT_EQ(strataMoeBufferSetChunkTokens(buf, 100), strataSuccess);
    ASSERT_EQ(strataMoeBufferGetChunkTokens(buf, &chunk), strataSuccess);
    EXPECT_EQ(chunk, 8u);  // capped at maxTokensPerRank: one chunk
    ASSERT_EQ(strataMoeBufferSetChunkTokens(buf, 0), strataSuccess);
    ASSERT_EQ(strataMoeBufferGetChunkTokens(buf, &chunk), strataSuccess);
    EXPECT_EQ(chunk, 8u);  // the default, capped

    std::vector<float> x(8 * 4, 1.0f), w(8 * 2, 0.5f), recvX(2 * 8 * 2 * 4), out(8 * 4);
    std::vector<int32_t> ids(8 * 2);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i % 4);
    std::vector<int> counts(2);
    size_t rows = 0;
    strataMoeHandle_t handle{};
    ASSERT_EQ(
        strataMoeDispatch(buf, x.data(), strataFloat32, 8, ids.data(), strataInt32, w.data(),
                          recvX.data(), nullptr, nullptr, counts.data(), &rows, &handle, nullptr),
        strataSuccess)
        << strataGetLastError(comm);
    ASSERT_GT(rows, 0u);
    expectError(strataMoeCombineRowsReady(buf, &handle, rows, 1), strataInvalidArgument, comm,
                {"outside the"});
    expectError(strataMoeCombineRowsReady(buf, nullptr, 0, 1), strataInvalidArgument, comm,
                {"handle is NULL"});
    ASSERT_EQ(strataMoeCombineRowsReady(buf, &handle, 0, 1), strataSuccess);
    expectError(strataMoeCombineRowsReady(buf, &handle, 0, 1), strataInvalidUsage, comm,
                {"row 0 was already handed back"});
    expectError(
        strataMoeCombinePipelined(buf, &handle, nullptr, strataFloat32, out.data(), nullptr),
        strataInvalidArgument, comm, {"expertOut is NULL"});
    expectError(
        strataMoeCombinePipelined(buf, &handle, recvX.data(), strataBfloat16, out.data(), nullptr),
        strataInvalidArgument, comm, {"type"});
    ASSERT_EQ(strataMoeCombineRowsReady(buf, &handle, 1, rows - 1), strataSuccess);
    ASSERT_EQ(
        strataMoeCombinePipelined(buf, &handle, recvX.data(), strataFloat32, out.data(), nullptr),
        strataSuccess)
        << strataGetLastError(comm);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_FLOAT_EQ(out[i], 1.0f) << rank;
    EXPECT_EQ(strataMoeBufferDestroy(buf), strataSuccess);
  });
}

// Ranks that set different chunk sizes: the dispatch fails on every rank, naming the peer, and a
// caller waiting for chunks gets that error instead of hanging.
TEST(MoePipelineArgs, DifferentChunkSizesFailTheDispatchWithoutHanging) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 20000;
  std::vector<std::string> errors(2);
  runRanksWith(2, cfg, [&](int rank, strataComm_t comm) {
    const strataMoeConfig_t mc = moeConfig(8, 16, 2, 4, strataFloat32);
    strataMoeBuffer_t buf = nullptr;
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess);
    ASSERT_EQ(strataMoeBufferSetChunkTokens(buf, rank == 0 ? 2 : 8), strataSuccess);
    std::vector<float> x(8 * 16, 1.0f), w(8 * 2, 0.5f), recvX(2 * 8 * 2 * 16);
    std::vector<int32_t> ids(8 * 2);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i % 4);
    std::vector<int> counts(2);
    size_t rows = 0;
    strataMoeHandle_t handle{};
    strataStream_t stream = nullptr;
    ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
    ASSERT_EQ(
        strataMoeDispatch(buf, x.data(), strataFloat32, 8, ids.data(), strataInt32, w.data(),
                          recvX.data(), nullptr, nullptr, counts.data(), &rows, &handle, stream),
        strataSuccess);
    strataMoeChunk_t ch{};
    strataResult_t r = strataSuccess;
    while ((r = strataMoeDispatchNextChunk(buf, -1, 1, &ch)) == strataSuccess && ch.numRows > 0) {
    }
    EXPECT_NE(r, strataSuccess) << "rank " << rank;
    EXPECT_NE(strataStreamSynchronize(stream), strataSuccess) << "rank " << rank;
    errors[static_cast<size_t>(rank)] = strataGetLastError(comm);
    strataStreamDestroy(stream);
    strataMoeBufferDestroy(buf);
  });
  // Where a first chunk larger than the receiver's arrives, the message names its sender; where
  // a smaller one arrives, the header check names the chunk sizes.
  auto names = [](const std::string& e) {
    return e.find("chunks of") != std::string::npos ||
           e.find("rank 1 sent a message of") != std::string::npos;
  };
  const bool named = names(errors[0]) || names(errors[1]);
  EXPECT_TRUE(named) << errors[0] << " | " << errors[1];
}

}  // namespace
}  // namespace strata::test
