// One rank of the MoE multi-process test (moe_mp_test.cc), through the public C API only.
//   (no argument)  dispatch + combine with identity experts on a decode-like shape; every token
//                  must come back as itself times the sum of its weights. Prints "OK rank R".
//   kill-loop direct|fifo
//                  with STRATA_MOE_DIRECT 1 or 0, checks that the combine took that path and
//                  prints "READY" after one dispatch + combine, then loops them until a peer's
//                  death surfaces; prints the error and exits 10 + the result code.
//   compare        the same dispatches and combines (plain and pipelined, float32 and int8
//                  legs) on a buffer with direct puts and on one with STRATA_MOE_DIRECT=0:
//                  every output must be bit-identical. Prints "OK rank R".
//   maps           counts the strataMemAlloc mappings in /proc/self/maps: a buffer with direct
//                  puts adds this rank's and every peer's; destroying it removes them.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "proc_counts.h"
#include "strata/strata.h"
#include "worker_report.h"

namespace {

using namespace strata::worker;

constexpr size_t kTokens = 64, kHidden = 1024;
constexpr int kTopk = 8, kExperts = 64;

struct Inputs {
  std::vector<float> x, w;
  std::vector<int32_t> ids;
};

Inputs inputsOf(int rank) {
  Inputs in;
  in.x.resize(kTokens * kHidden);
  in.w.resize(kTokens * kTopk);
  in.ids.resize(kTokens * kTopk);
  uint64_t s = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(rank + 1);
  auto next = [&] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  for (auto& v : in.x) v = static_cast<float>(next() % 2001) / 1000.0f - 1.0f;
  for (size_t t = 0; t < kTokens; ++t) {
    const int first = static_cast<int>(next() % kExperts);
    for (int j = 0; j < kTopk; ++j) {
      in.ids[t * kTopk + static_cast<size_t>(j)] = (first + j * 7) % kExperts;  // distinct
      in.w[t * kTopk + static_cast<size_t>(j)] = static_cast<float>(next() % 1000 + 1) / 1000.0f;
    }
  }
  return in;
}

strataMoeConfig_t configWith(strataMoeQuant_t quant) {
  strataMoeConfig_t mc{};
  mc.maxTokensPerRank = kTokens;
  mc.hidden = kHidden;
  mc.topk = kTopk;
  mc.numExperts = kExperts;
  mc.dtype = strataFloat32;
  mc.dispatchQuant = quant;
  mc.combineQuant = quant;
  return mc;
}

std::string lastAlgo() {
  strataStats_t st{};
  ok(strataCommGetStats(g_comm, &st), "strataCommGetStats");
  return st.lastAlgo;
}

struct RunOutputs {
  std::vector<float> recvX, recvW, combined;
  std::vector<int32_t> recvIdx;
  std::vector<int> counts;
  size_t rows = 0;
  std::string algo;
};

// One dispatch + combine; the expert scales local expert le's rows by 1 + le % 3. Pipelined: on
// a stream in chunks of 8 tokens, the expert per landed chunk, rows handed back as done.
RunOutputs runOnce(strataMoeBuffer_t buf, const Inputs& in, bool pipelined) {
  size_t maxRows = 0;
  ok(strataMoeGetMaxRecvTokens(buf, &maxRows), "strataMoeGetMaxRecvTokens");
  const size_t lx = static_cast<size_t>(kExperts / g_nranks);
  RunOutputs o;
  o.recvX.assign(maxRows * kHidden, -1.0f);
  o.recvW.assign(maxRows * kTopk, -1.0f);
  o.recvIdx.assign(maxRows * kTopk, -1);
  o.counts.assign(lx, -1);
  o.combined.assign(kTokens * kHidden, -1.0f);
  std::vector<float> out(maxRows * kHidden);
  auto expert = [&](int le, size_t first, size_t rows) {
    for (size_t i = first * kHidden; i < (first + rows) * kHidden; ++i)
      out[i] = static_cast<float>(1 + le % 3) * o.recvX[i];
  };
  ok(strataMoeBufferSetChunkTokens(buf, pipelined ? 8 : kTokens), "strataMoeBufferSetChunkTokens");
  strataStream_t stream = nullptr;
  if (pipelined) ok(strataStreamCreate(&stream), "strataStreamCreate");
  strataMoeHandle_t handle{};
  ok(strataMoeDispatch(buf, in.x.data(), strataFloat32, kTokens, in.ids.data(), strataInt32,
                       in.w.data(), o.recvX.data(), o.recvIdx.data(), o.recvW.data(),
                       o.counts.data(), &o.rows, &handle, stream),
     "strataMoeDispatch");
  if (!pipelined) {
    size_t row = 0;
    for (size_t le = 0; le < lx; ++le) {
      expert(static_cast<int>(le), row, static_cast<size_t>(o.counts[le]));
      row += static_cast<size_t>(o.counts[le]);
    }
    ok(strataMoeCombine(buf, &handle, out.data(), strataFloat32, o.combined.data(), nullptr),
       "strataMoeCombine");
  } else {
    ok(strataMoeCombinePipelined(buf, &handle, out.data(), strataFloat32, o.combined.data(),
                                 stream),
       "strataMoeCombinePipelined");
    for (;;) {
      strataMoeChunk_t ch{};
      ok(strataMoeDispatchNextChunk(buf, -1, 1, &ch), "strataMoeDispatchNextChunk");
      if (ch.numRows == 0) break;
      expert(ch.localExpert, ch.firstRow, ch.numRows);
      ok(strataMoeCombineRowsReady(buf, &handle, ch.firstRow, ch.numRows),
         "strataMoeCombineRowsReady");
    }
    ok(strataStreamSynchronize(stream), "strataStreamSynchronize");
    ok(strataStreamDestroy(stream), "strataStreamDestroy");
  }
  o.algo = lastAlgo();
  return o;
}

template <typename T>
bool sameBytes(const std::vector<T>& a, const std::vector<T>& b, size_t n) {
  return std::memcmp(a.data(), b.data(), n * sizeof(T)) == 0;
}

int runCompare(const Inputs& in) {
  for (strataMoeQuant_t quant : {strataMoeQuantNone, strataMoeQuantInt8}) {
    const strataMoeConfig_t mc = configWith(quant);
    unsetenv("STRATA_MOE_DIRECT");
    strataMoeBuffer_t direct = nullptr, fifo = nullptr;
    ok(strataMoeBufferCreate(g_comm, &mc, &direct), "strataMoeBufferCreate (direct)");
    setenv("STRATA_MOE_DIRECT", "0", 1);
    ok(strataMoeBufferCreate(g_comm, &mc, &fifo), "strataMoeBufferCreate (FIFO)");
    for (bool pipelined : {false, true}) {
      const RunOutputs a = runOnce(direct, in, pipelined);
      const RunOutputs b = runOnce(fifo, in, pipelined);
      const char* what = nullptr;
      if (a.algo != "moe-combine-direct" || b.algo != "moe-combine")
        what = "the paths (lastAlgo)";
      else if (a.rows != b.rows || a.counts != b.counts)
        what = "rows or counts";
      else if (!sameBytes(a.recvX, b.recvX, a.rows * kHidden))
        what = "recvX";
      else if (!sameBytes(a.recvIdx, b.recvIdx, a.rows * kTopk) ||
               !sameBytes(a.recvW, b.recvW, a.rows * kTopk))
        what = "recvTopkIdx or recvTopkWeights";
      else if (!sameBytes(a.combined, b.combined, kTokens * kHidden))
        what = "combined";
      if (what) {
        std::printf("FAIL rank %d: direct and FIFO differ in %s (quant %d, pipelined %d, %s/%s)\n",
                    g_rank, what, static_cast<int>(quant), pipelined ? 1 : 0, a.algo.c_str(),
                    b.algo.c_str());
        return 1;
      }
    }
    ok(strataMoeBufferDestroy(direct), "strataMoeBufferDestroy");
    ok(strataMoeBufferDestroy(fifo), "strataMoeBufferDestroy");
  }
  return 0;
}

int runMaps() {
  const strataMoeConfig_t mc = configWith(strataMoeQuantNone);
  const int before = countSharedMappings();
  strataMoeBuffer_t buf = nullptr;
  ok(strataMoeBufferCreate(g_comm, &mc, &buf), "strataMoeBufferCreate");
  const int during = countSharedMappings();
  ok(strataMoeBufferDestroy(buf), "strataMoeBufferDestroy");
  const int after = countSharedMappings();
  if (during != before + g_nranks || after != before) {
    std::printf("FAIL rank %d: strata-mem mappings %d before the buffer, %d with it (expected %d), "
                "%d after destroying it\n",
                g_rank, before, during, before + g_nranks, after);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const bool killLoop = mode == "kill-loop";
  initComm();
  if (mode == "compare" || mode == "maps") {
    const int rc = mode == "compare" ? runCompare(inputsOf(g_rank)) : runMaps();
    if (rc != 0) return rc;
    finishComm();
    std::printf("OK rank %d\n", g_rank);
    return 0;
  }
  const bool direct = argc > 2 && std::strcmp(argv[2], "direct") == 0;
  if (killLoop) setenv("STRATA_MOE_DIRECT", direct ? "1" : "0", 1);
  const strataMoeConfig_t mc = configWith(strataMoeQuantNone);
  strataMoeBuffer_t buf = nullptr;
  ok(strataMoeBufferCreate(g_comm, &mc, &buf), "strataMoeBufferCreate");
  size_t maxRows = 0;
  ok(strataMoeGetMaxRecvTokens(buf, &maxRows), "strataMoeGetMaxRecvTokens");
  const Inputs in = inputsOf(g_rank);
  std::vector<float> recvX(maxRows * kHidden), out(kTokens * kHidden);
  std::vector<int> counts(static_cast<size_t>(kExperts / g_nranks));
  size_t rows = 0;
  strataMoeHandle_t handle{};
  auto round = [&]() {
    strataResult_t r = strataMoeDispatch(buf, in.x.data(), strataFloat32, kTokens, in.ids.data(),
                                         strataInt32, in.w.data(), recvX.data(), nullptr, nullptr,
                                         counts.data(), &rows, &handle, nullptr);
    if (r != strataSuccess) return r;
    return strataMoeCombine(buf, &handle, recvX.data(), strataFloat32, out.data(), nullptr);
  };
  ok(round(), "first dispatch + combine");
  for (size_t t = 0; t < kTokens; ++t) {
    float sum = 0;
    for (int j = 0; j < kTopk; ++j) sum += in.w[t * kTopk + static_cast<size_t>(j)];
    for (size_t i = 0; i < kHidden; ++i) {
      const float want = in.x[t * kHidden + i] * sum;
      if (std::fabs(out[t * kHidden + i] - want) > 1e-5f * std::fabs(want) + 1e-6f) {
        std::printf("FAIL rank %d: token %zu element %zu: %g, expected %g\n", g_rank, t, i,
                    static_cast<double>(out[t * kHidden + i]), static_cast<double>(want));
        return 1;
      }
    }
  }
  if (!killLoop) {
    ok(strataMoeBufferDestroy(buf), "strataMoeBufferDestroy");
    finishComm();
    std::printf("OK rank %d\n", g_rank);
    return 0;
  }
  const std::string path = lastAlgo();
  if (path != (direct ? "moe-combine-direct" : "moe-combine")) {
    std::printf("FAIL rank %d: the combine ran %s\n", g_rank, path.c_str());
    return 1;
  }
  std::printf("READY rank %d (%s)\n", g_rank, path.c_str());
  std::fflush(stdout);
  return repeatUntilFailure("MoE round", 10000000, round);
}
