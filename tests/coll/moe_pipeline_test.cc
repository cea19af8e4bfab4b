// Token-grained MoE pipelining: a dispatch in small chunks on a stream, consumed chunk by chunk
// (strataMoeDispatchNextChunk, waiting and polling) with the expert's work done per chunk and
// handed back to a pipelined combine (strataMoeCombineRowsReady), gives bit-identical rows,
// counts and combined outputs to a one-chunk synchronous dispatch and combine, on shared memory
// and on the sim. Also the chunk calls' argument checks.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "coll/coll_harness.h"
#include "reduce/float_formats.h"

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

struct Input {
  size_t tokens = 0;
  std::vector<int32_t> ids;
  std::vector<float> weights;
  std::vector<uint16_t> x;  // bfloat16
};

Input makeInput(const PipelineCase& c, int rank) {
  Input in;
  in.tokens = c.maxTokens - static_cast<size_t>(rank % 3);
  std::mt19937 rng(static_cast<uint32_t>(1234 + 31 * rank));
  std::uniform_int_distribution<int> pick(0, c.experts - 1);
  std::uniform_real_distribution<float> w(0.05f, 1.0f), v(-2.0f, 2.0f);
  const size_t k = static_cast<size_t>(c.topk);
  in.ids.resize(in.tokens * k);
  in.weights.resize(in.tokens * k);
  for (size_t t = 0; t < in.tokens; ++t) {
    for (size_t j = 0; j < k;) {
      const int e = pick(rng);
      bool dup = false;
      for (size_t q = 0; q < j; ++q) dup = dup || in.ids[t * k + q] == e;
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

// The synthetic expert: local expert le scales row r by (1 + le % 3) and adds r's first value.
void expert(const PipelineCase& c, int le, const uint16_t* in, uint16_t* out, size_t rows) {
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
};

class MoePipelineTest : public testing::TestWithParam<PipelineCase> {};

TEST_P(MoePipelineTest, PipelinedAndUnpipelinedRunsAreIdentical) {
  const PipelineCase c = GetParam();
  // The two-level route on hccs-2x8 (auto prices the flat one cheaper at these small shapes).
  const ScopedEnv route("STRATA_MOE_ROUTE",
                        c.topo && std::strcmp(c.topo, "hccs-2x8") == 0 ? "hier" : nullptr);
  const size_t k = static_cast<size_t>(c.topk);
  const size_t h = c.hidden;
  const int lx = c.experts / c.ranks;
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 60000;
  if (c.topo) {
    cfg.transport = "sim";
    cfg.topoFile = c.topo;
  }
  runRanksWith(c.ranks, cfg, [&](int rank, strataComm_t comm) {
    strataMoeConfig_t mc{};
    mc.maxTokensPerRank = c.maxTokens;
    mc.hidden = h;
    mc.topk = c.topk;
    mc.numExperts = c.experts;
    mc.dtype = strataBfloat16;
    mc.dispatchQuant = c.quant;
    mc.combineQuant = c.quant;
    strataMoeBuffer_t buf = nullptr;
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess) << strataGetLastError(comm);
    size_t maxRows = 0, chunk = 0;
    ASSERT_EQ(strataMoeGetMaxRecvTokens(buf, &maxRows), strataSuccess);
    ASSERT_EQ(strataMoeBufferGetChunkTokens(buf, &chunk), strataSuccess);
    EXPECT_EQ(chunk, std::min<size_t>(c.maxTokens, std::max<size_t>(16, (c.maxTokens + 3) / 4)));
    const Input in = makeInput(c, rank);
    auto fresh = [&]() {
      Outputs o;
      o.recvX.assign(maxRows * h, 0xdead);
      o.recvIdx.assign(maxRows * k, -7);
      o.recvW.assign(maxRows * k, -7.0f);
      o.counts.assign(static_cast<size_t>(lx), -1);
      o.combined.assign(in.tokens * h, 0xbeef);
      return o;
    };

    // Unpipelined: one chunk, synchronous, experts over all rows at once.
    Outputs plain = fresh();
    ASSERT_EQ(strataMoeBufferSetChunkTokens(buf, c.maxTokens), strataSuccess);
    strataMoeHandle_t handle{};
    ASSERT_EQ(
        strataMoeDispatch(buf, in.x.data(), strataBfloat16, in.tokens, in.ids.data(), strataInt32,
                          in.weights.data(), plain.recvX.data(), plain.recvIdx.data(),
                          plain.recvW.data(), plain.counts.data(), &plain.rows, &handle, nullptr),
        strataSuccess)
        << strataGetLastError(comm);
    std::vector<uint16_t> outPlain(std::max<size_t>(plain.rows, 1) * h);
    size_t row = 0;
    for (int le = 0; le < lx; ++le) {
      const auto n = static_cast<size_t>(plain.counts[static_cast<size_t>(le)]);
      expert(c, le, plain.recvX.data() + row * h, outPlain.data() + row * h, n);
      row += n;
    }
    ASSERT_EQ(row, plain.rows);
    ASSERT_EQ(strataMoeCombine(buf, &handle, outPlain.data(), strataBfloat16, plain.combined.data(),
                               nullptr),
              strataSuccess)
        << strataGetLastError(comm);

    // Pipelined: small chunks on a stream; the expert runs per chunk as it lands and hands its
    // rows back to a combine already queued behind the dispatch.
    Outputs piped = fresh();
    ASSERT_EQ(strataMoeBufferSetChunkTokens(buf, c.chunk), strataSuccess);
    ASSERT_EQ(strataMoeBufferGetChunkTokens(buf, &chunk), strataSuccess);
    EXPECT_EQ(chunk, c.chunk);
    strataStream_t stream = nullptr;
    ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
    ASSERT_EQ(
        strataMoeDispatch(buf, in.x.data(), strataBfloat16, in.tokens, in.ids.data(), strataInt32,
                          in.weights.data(), piped.recvX.data(), piped.recvIdx.data(),
                          piped.recvW.data(), piped.counts.data(), &piped.rows, &handle, stream),
        strataSuccess)
        << strataGetLastError(comm);
    std::vector<uint16_t> outPiped(maxRows * h);
    ASSERT_EQ(strataMoeCombinePipelined(buf, &handle, outPiped.data(), strataBfloat16,
                                        piped.combined.data(), stream),
              strataSuccess)
        << strataGetLastError(comm);
    std::vector<int> seen(maxRows, 0);
    size_t handedOut = 0, chunks = 0;
    for (;;) {
      strataMoeChunk_t ch{};
      const strataResult_t r = strataMoeDispatchNextChunk(buf, -1, c.poll ? 0 : 1, &ch);
      if (r == strataInProgress) {
        ASSERT_TRUE(c.poll);
        std::this_thread::yield();
        continue;
      }
      ASSERT_EQ(r, strataSuccess) << strataGetLastError(comm);
      if (ch.numRows == 0) break;
      ++chunks;
      ASSERT_GE(ch.localExpert, 0);
      ASSERT_LT(ch.localExpert, lx);
      for (size_t q = ch.firstRow; q < ch.firstRow + ch.numRows; ++q) {
        ASSERT_LT(q, maxRows);
        ASSERT_EQ(seen[q]++, 0) << "row " << q << " handed out twice";
      }
      handedOut += ch.numRows;
      expert(c, ch.localExpert, piped.recvX.data() + ch.firstRow * h,
             outPiped.data() + ch.firstRow * h, ch.numRows);
      ASSERT_EQ(strataMoeCombineRowsReady(buf, &handle, ch.firstRow, ch.numRows), strataSuccess)
          << strataGetLastError(comm);
    }
    ASSERT_EQ(strataStreamSynchronize(stream), strataSuccess) << strataGetLastError(comm);
    EXPECT_EQ(strataStreamDestroy(stream), strataSuccess);
    EXPECT_EQ(handedOut, plain.rows);
    if (plain.rows > 2 * c.chunk) {
      EXPECT_GT(chunks, 1u);
    }
    // A further call says every row has been handed out.
    strataMoeChunk_t done{};
    EXPECT_EQ(strataMoeDispatchNextChunk(buf, 0, 1, &done), strataSuccess);
    EXPECT_EQ(done.numRows, 0u);

    ASSERT_EQ(piped.rows, plain.rows);
    EXPECT_EQ(piped.counts, plain.counts);
    EXPECT_EQ(0, std::memcmp(piped.recvX.data(), plain.recvX.data(), plain.rows * h * 2));
    EXPECT_EQ(0, std::memcmp(piped.recvIdx.data(), plain.recvIdx.data(), plain.rows * k * 4));
    EXPECT_EQ(0, std::memcmp(piped.recvW.data(), plain.recvW.data(), plain.rows * k * 4));
    EXPECT_EQ(piped.combined, plain.combined) << "rank " << rank;
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

// strataGetLastError(comm) holds the fragment.
void expectError(strataResult_t got, strataResult_t want, strataComm_t comm, const char* fragment) {
  EXPECT_EQ(got, want) << strataGetLastError(comm);
  const std::string msg = strataGetLastError(comm);
  EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
}

TEST(MoePipelineArgs, BadChunkCallsAreRefusedByName) {
  runRanks(2, "", [](int rank, strataComm_t comm) {
    strataMoeConfig_t mc{};
    mc.maxTokensPerRank = 8;
    mc.hidden = 4;
    mc.topk = 2;
    mc.numExperts = 4;
    mc.dtype = strataFloat32;
    strataMoeBuffer_t buf = nullptr;
    ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess);
    strataMoeChunk_t ch{};
    expectError(strataMoeDispatchNextChunk(buf, -1, 1, &ch), strataInvalidUsage, comm,
                "has not dispatched yet");
    expectError(strataMoeDispatchNextChunk(buf, 2, 1, &ch), strataInvalidArgument, comm,
                "localExpert 2 is outside [-1, 2)");
    expectError(strataMoeDispatchNextChunk(buf, -1, 1, nullptr), strataInvalidArgument, comm,
                "chunk is NULL");
    expectError(strataMoeBufferGetChunkTokens(buf, nullptr), strataInvalidArgument, comm,
                "chunkTokens is NULL");
    expectError(strataMoeBufferSetChunkTokens(nullptr, 4), strataInvalidArgument, nullptr,
                "buffer is NULL");
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
                "outside the");
    expectError(strataMoeCombineRowsReady(buf, nullptr, 0, 1), strataInvalidArgument, comm,
                "handle is NULL");
    ASSERT_EQ(strataMoeCombineRowsReady(buf, &handle, 0, 1), strataSuccess);
    expectError(strataMoeCombineRowsReady(buf, &handle, 0, 1), strataInvalidUsage, comm,
                "row 0 was already handed back");
    expectError(
        strataMoeCombinePipelined(buf, &handle, nullptr, strataFloat32, out.data(), nullptr),
        strataInvalidArgument, comm, "expertOut is NULL");
    expectError(
        strataMoeCombinePipelined(buf, &handle, recvX.data(), strataBfloat16, out.data(), nullptr),
        strataInvalidArgument, comm, "type");
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
    strataMoeConfig_t mc{};
    mc.maxTokensPerRank = 8;
    mc.hidden = 16;
    mc.topk = 2;
    mc.numExperts = 4;
    mc.dtype = strataFloat32;
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
