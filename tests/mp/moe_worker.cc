// One rank of the MoE multi-process test (moe_mp_test.cc), through the public C API only.
//   (no argument)  dispatch + combine with identity experts on a decode-like shape; every token
//                  must come back as itself times the sum of its weights. Prints "OK rank R".
//   kill-loop      prints "READY" after one dispatch + combine, then loops them until a peer's
//                  death surfaces; prints the error and exits 10 + the result code.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "strata/strata.h"

namespace {

strataComm_t g_comm = nullptr;
int g_rank = -1, g_n = 0;

void ok(strataResult_t r, const char* what) {
  if (r == strataSuccess) return;
  std::printf("FAIL rank %d: %s: %s: %s\n", g_rank, what, strataGetErrorString(r),
              strataGetLastError(g_comm));
  std::fflush(stdout);
  std::exit(1);
}

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

}  // namespace

int main(int argc, char** argv) {
  const bool killLoop = argc > 1 && std::strcmp(argv[1], "kill-loop") == 0;
  ok(strataCommInitFromEnv(&g_comm, nullptr), "strataCommInitFromEnv");
  ok(strataCommUserRank(g_comm, &g_rank), "strataCommUserRank");
  ok(strataCommCount(g_comm, &g_n), "strataCommCount");
  strataMoeConfig_t mc{};
  mc.maxTokensPerRank = kTokens;
  mc.hidden = kHidden;
  mc.topk = kTopk;
  mc.numExperts = kExperts;
  mc.dtype = strataFloat32;
  strataMoeBuffer_t buf = nullptr;
  ok(strataMoeBufferCreate(g_comm, &mc, &buf), "strataMoeBufferCreate");
  size_t maxRows = 0;
  ok(strataMoeGetMaxRecvTokens(buf, &maxRows), "strataMoeGetMaxRecvTokens");
  const Inputs in = inputsOf(g_rank);
  std::vector<float> recvX(maxRows * kHidden), out(kTokens * kHidden);
  std::vector<int> counts(static_cast<size_t>(kExperts / g_n));
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
    ok(strataCommFinalize(g_comm), "strataCommFinalize");
    ok(strataCommDestroy(g_comm), "strataCommDestroy");
    std::printf("OK rank %d\n", g_rank);
    return 0;
  }
  std::printf("READY rank %d\n", g_rank);
  std::fflush(stdout);
  for (long iter = 1; iter <= 10000000; ++iter) {
    const strataResult_t r = round();
    if (r != strataSuccess) {
      std::printf("rank %d: MoE round %ld returned %s: %s\n", g_rank, iter, strataGetErrorString(r),
                  strataGetLastError(g_comm));
      std::fflush(stdout);
      strataCommAbort(g_comm);
      return 10 + static_cast<int>(r);
    }
  }
  std::printf("rank %d: no MoE round failed\n", g_rank);
  return 1;
}
