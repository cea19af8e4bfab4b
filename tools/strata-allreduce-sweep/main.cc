// strata_allreduce_sweep: an AllReduce (float32 sum) size sweep over the ranks of the launch
// environment (strata-run, mpirun, Slurm, torchrun), printed with single-core memcpy bandwidth
// measured in the same run as the yardstick. Launch: strata-run -np 2 strata_allreduce_sweep
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "strata/strata.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

#define CHECK_STRATA(call, comm)                                                            \
  do {                                                                                     \
    strataResult_t r_ = (call);                                                            \
    if (r_ != strataSuccess) {                                                             \
      std::fprintf(stderr, "%s failed: %s: %s\n", #call, strataGetErrorString(r_),         \
                   strataGetLastError(comm));                                              \
      return 1;                                                                            \
    }                                                                                      \
  } while (0)

// Median seconds of one memcpy of `bytes` (the buffers are touched first).
double memcpySeconds(size_t bytes, int iters) {
  std::vector<char> a(bytes, 1), b(bytes, 0);
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    auto s = Clock::now();
    std::memcpy(b.data(), a.data(), bytes);
    t.push_back(seconds(s, Clock::now()));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"AllReduce size sweep (float32 sum) with a memcpy yardstick"};
  size_t minBytes = 8, maxBytes = 64u << 20;
  int factor = 2, iters = 20, warmup = 5;
  app.add_option("-b,--minbytes", minBytes, "smallest message in bytes")->capture_default_str();
  app.add_option("-e,--maxbytes", maxBytes, "largest message in bytes")->capture_default_str();
  app.add_option("-f,--stepfactor", factor, "size multiplier per step")->capture_default_str()->check(CLI::Range(2, 1024));
  app.add_option("-n,--iters", iters, "timed iterations per size")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("-w,--warmup", warmup, "warm-up iterations per size")->capture_default_str()->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  strataComm_t comm = nullptr;
  CHECK_STRATA(strataCommInitFromEnv(&comm, nullptr), nullptr);
  int rank = 0, n = 1;
  CHECK_STRATA(strataCommUserRank(comm, &rank), comm);
  CHECK_STRATA(strataCommCount(comm, &n), comm);
  if (rank == 0) {
    std::printf("# Strata AllReduce sweep: %d ranks, float32 sum, median of %d iterations\n", n, iters);
    std::printf("# %12s %12s %12s %12s %12s %14s\n", "size(B)", "count", "time(us)", "algbw(GB/s)",
                "busbw(GB/s)", "memcpy(GB/s)");
  }
  std::vector<float> send, recv;
  for (size_t bytes = std::max<size_t>(minBytes, 4); bytes <= maxBytes; bytes *= static_cast<size_t>(factor)) {
    const size_t count = bytes / sizeof(float);
    send.assign(count, 1.0f + static_cast<float>(rank));
    recv.assign(count, 0.0f);
    for (int i = 0; i < warmup; ++i)
      CHECK_STRATA(strataAllReduce(send.data(), recv.data(), count, strataFloat32, strataSum, comm, nullptr), comm);
    std::vector<double> t;
    for (int i = 0; i < iters; ++i) {
      CHECK_STRATA(strataBarrier(comm, nullptr), comm);
      auto s = Clock::now();
      CHECK_STRATA(strataAllReduce(send.data(), recv.data(), count, strataFloat32, strataSum, comm, nullptr), comm);
      t.push_back(seconds(s, Clock::now()));
    }
    // Every rank's time matters: the slowest rank's median is the collective's time.
    std::sort(t.begin(), t.end());
    double med = t[t.size() / 2];
    CHECK_STRATA(strataAllReduce(&med, &med, 1, strataFloat64, strataMax, comm, nullptr), comm);
    const float expect = static_cast<float>(n) * (static_cast<float>(n) + 1.0f) / 2.0f;
    if (count > 0 && (recv.front() != expect || recv.back() != expect)) {
      std::fprintf(stderr, "rank %d: wrong result at %zu bytes: %g, expected %g\n", rank, bytes,
                   static_cast<double>(recv.front()), static_cast<double>(expect));
      return 1;
    }
    const double mc = rank == 0 ? memcpySeconds(count * sizeof(float), std::max(3, iters / 2)) : 0;
    if (rank == 0) {
      const double algbw = static_cast<double>(count * sizeof(float)) / med / 1e9;
      const double busbw = algbw * 2.0 * (n - 1) / n;
      const double mcbw = static_cast<double>(count * sizeof(float)) / mc / 1e9;
      std::printf("  %12zu %12zu %12.2f %12.3f %12.3f %14.3f\n", count * sizeof(float), count, med * 1e6,
                  algbw, busbw, mcbw);
      std::fflush(stdout);
    }
  }
  CHECK_STRATA(strataCommFinalize(comm), comm);
  CHECK_STRATA(strataCommDestroy(comm), nullptr);
  return 0;
}
