// What the MoE tests share: buffer and communicator configs, the route pinned per topology, the
// error check, a bfloat16 routing with a synthetic expert, and one dispatch + combine of it run
// unpipelined or chunk by chunk, with the bit-for-bit comparison of two such runs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "coll/coll_harness.h"
#include "reduce/float_formats.h"

namespace strata::test {

inline strataMoeConfig_t moeConfig(size_t maxTokens, size_t hidden, int topk, int experts,
                                   strataDataType_t dtype,
                                   strataMoeQuant_t dispatchQuant = strataMoeQuantNone,
                                   strataMoeQuant_t combineQuant = strataMoeQuantNone) {
  strataMoeConfig_t m{};
  m.maxTokensPerRank = maxTokens;
  m.hidden = hidden;
  m.topk = topk;
  m.numExperts = experts;
  m.dtype = dtype;
  m.dispatchQuant = dispatchQuant;
  m.combineQuant = combineQuant;
  return m;
}

// A 60 s timeout, on shared memory (topo nullptr) or on the sim with the preset topo.
inline strataConfig_t moeCommConfig(const char* topo) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 60000;
  if (topo) {
    cfg.transport = "sim";
    cfg.topoFile = topo;
  }
  return cfg;
}

// STRATA_MOE_ROUTE for a test on topo. The tests' small shapes price the flat route cheaper on
// hccs-2x8 (the extra hop outweighs the bytes saved): the two-level route is pinned there to
// cover it.
inline const char* pinnedMoeRoute(const char* topo) {
  return topo && std::strcmp(topo, "hccs-2x8") == 0 ? "hier" : nullptr;
}

// strataGetLastError(comm) holds every fragment.
inline void expectError(strataResult_t got, strataResult_t want, strataComm_t comm,
                        std::initializer_list<const char*> fragments) {
  EXPECT_EQ(got, want) << strataGetLastError(comm);
  const std::string msg = strataGetLastError(comm);
  for (const char* f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg;
}

// One rank's bfloat16 tokens and their routing.
struct MoeBf16Input {
  size_t tokens = 0;
  std::vector<int32_t> ids;
  std::vector<float> weights;
  std::vector<uint16_t> x;
};

// `tokens` tokens, each routed to topk distinct experts drawn uniformly (from an RNG seeded with
// seed), weights in [0.05, 1), values in [-2, 2). With unusedSlots, slot j of token t is left
// unused (-1) where (t + j) % 11 == 5.
inline MoeBf16Input makeMoeBf16Input(size_t tokens, int experts, int topk, size_t hidden,
                                     uint32_t seed, bool unusedSlots) {
  MoeBf16Input in;
  in.tokens = tokens;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pick(0, experts - 1);
  std::uniform_real_distribution<float> w(0.05f, 1.0f), v(-2.0f, 2.0f);
  const size_t k = static_cast<size_t>(topk);
  in.ids.resize(tokens * k);
  in.weights.resize(tokens * k);
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t j = 0; j < k;) {
      const int e = unusedSlots && (t + j) % 11 == 5 ? -1 : pick(rng);
      bool dup = false;
      for (size_t q = 0; q < j && e >= 0; ++q) dup = dup || in.ids[t * k + q] == e;
      if (dup) continue;
      in.ids[t * k + j] = e;
      in.weights[t * k + j] = w(rng);
      ++j;
    }
  }
  in.x.resize(tokens * hidden);
  for (uint16_t& e : in.x) e = floatToBf16(v(rng));
  return in;
}

// The synthetic expert: local expert le scales row r by (1 + le % 3) and adds r's first value.
inline void scaleRowsExpert(int le, size_t hidden, const uint16_t* in, uint16_t* out, size_t rows) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t i = 0; i < hidden; ++i)
      out[r * hidden + i] =
          floatToBf16(static_cast<float>(1 + le % 3) * bf16ToFloat(in[r * hidden + i]) +
                      0.25f * bf16ToFloat(in[r * hidden]));
}

// What one dispatch + combine of a MoeBf16Input gives a rank.
struct MoeBf16Outputs {
  std::vector<uint16_t> recvX, combined;
  std::vector<int32_t> recvIdx;
  std::vector<float> recvW;
  std::vector<int> counts;  // per local expert
  size_t rows = 0;

  // Sizes every buffer (maxRows received rows, `tokens` combined ones) and fills it with a
  // marker, so that what a call leaves unwritten shows.
  void reset(size_t maxRows, size_t hidden, int topk, int localExperts, size_t tokens) {
    const size_t k = static_cast<size_t>(topk);
    recvX.assign(maxRows * hidden, 0xdead);
    recvIdx.assign(maxRows * k, -7);
    recvW.assign(maxRows * k, -7.0f);
    counts.assign(static_cast<size_t>(localExperts), -1);
    combined.assign(tokens * hidden, 0xbeef);
    rows = 0;
  }
};

// The dispatch of `in` into o, on stream (nullptr: synchronous).
inline void dispatchMoeBf16(strataMoeBuffer_t buf, strataComm_t comm, const MoeBf16Input& in,
                            MoeBf16Outputs& o, strataMoeHandle_t* handle, strataStream_t stream) {
  ASSERT_EQ(strataMoeDispatch(buf, in.x.data(), strataBfloat16, in.tokens, in.ids.data(),
                              strataInt32, in.weights.data(), o.recvX.data(), o.recvIdx.data(),
                              o.recvW.data(), o.counts.data(), &o.rows, handle, stream),
            strataSuccess)
      << strataGetLastError(comm);
}

// After a synchronous dispatch: every local expert over all its rows at once, then the
// synchronous combine into o.combined.
inline void runExpertsThenCombine(strataMoeBuffer_t buf, strataComm_t comm,
                                  strataMoeHandle_t* handle, size_t hidden, MoeBf16Outputs& o) {
  std::vector<uint16_t> out(std::max<size_t>(o.rows, 1) * hidden);
  size_t row = 0;
  for (size_t le = 0; le < o.counts.size(); ++le) {
    const auto n = static_cast<size_t>(o.counts[le]);
    scaleRowsExpert(static_cast<int>(le), hidden, o.recvX.data() + row * hidden,
                    out.data() + row * hidden, n);
    row += n;
  }
  ASSERT_EQ(row, o.rows);
  ASSERT_EQ(strataMoeCombine(buf, handle, out.data(), strataBfloat16, o.combined.data(), nullptr),
            strataSuccess)
      << strataGetLastError(comm);
}

// A pipelined dispatch + combine of `in` into o on a stream of its own: the combine is queued
// behind the dispatch, and each chunk, as it lands (polled with poll, else waited for), is seen
// by onChunk, run through its expert and handed back. Returns with the stream synchronized.
template <typename OnChunk>
void runPipelined(strataMoeBuffer_t buf, strataComm_t comm, const MoeBf16Input& in, size_t maxRows,
                  size_t hidden, bool poll, MoeBf16Outputs& o, OnChunk&& onChunk) {
  strataStream_t stream = nullptr;
  ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
  strataMoeHandle_t handle{};
  ASSERT_NO_FATAL_FAILURE(dispatchMoeBf16(buf, comm, in, o, &handle, stream));
  std::vector<uint16_t> out(maxRows * hidden);
  ASSERT_EQ(strataMoeCombinePipelined(buf, &handle, out.data(), strataBfloat16, o.combined.data(),
                                      stream),
            strataSuccess)
      << strataGetLastError(comm);
  for (;;) {
    strataMoeChunk_t ch{};
    const strataResult_t r = strataMoeDispatchNextChunk(buf, -1, poll ? 0 : 1, &ch);
    if (r == strataInProgress && poll) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(r, strataSuccess) << strataGetLastError(comm);
    if (ch.numRows == 0) break;
    ASSERT_NO_FATAL_FAILURE(onChunk(ch));
    scaleRowsExpert(ch.localExpert, hidden, o.recvX.data() + ch.firstRow * hidden,
                    out.data() + ch.firstRow * hidden, ch.numRows);
    ASSERT_EQ(strataMoeCombineRowsReady(buf, &handle, ch.firstRow, ch.numRows), strataSuccess)
        << strataGetLastError(comm);
  }
  ASSERT_EQ(strataStreamSynchronize(stream), strataSuccess) << strataGetLastError(comm);
  EXPECT_EQ(strataStreamDestroy(stream), strataSuccess);
}

// Two runs gave the same rows, counts and combined outputs, bit for bit.
inline void expectSameOutputs(const MoeBf16Outputs& a, const MoeBf16Outputs& b, size_t hidden,
                              int topk, const std::string& where) {
  const size_t k = static_cast<size_t>(topk);
  ASSERT_EQ(a.rows, b.rows) << where;
  EXPECT_EQ(a.counts, b.counts) << where;
  EXPECT_EQ(0, std::memcmp(a.recvX.data(), b.recvX.data(), a.rows * hidden * 2)) << where;
  EXPECT_EQ(0, std::memcmp(a.recvIdx.data(), b.recvIdx.data(), a.rows * k * 4)) << where;
  EXPECT_EQ(0, std::memcmp(a.recvW.data(), b.recvW.data(), a.rows * k * 4)) << where;
  EXPECT_EQ(a.combined, b.combined) << where;
}

}  // namespace strata::test
