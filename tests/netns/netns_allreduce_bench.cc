// AllReduce (float32 sum) timings for Strata or Open MPI, one program for both so that both are
// measured the same way; scripts/bench-netns.sh runs it on network-namespace hosts.
//
//   netns_allreduce_bench strata   launched by strata-run (or any launcher Strata recognises)
//   netns_allreduce_bench mpi      launched by mpirun; MPI_Allreduce on MPI_COMM_WORLD
//
// For each size: warm-up calls, then a barrier and `iters` back-to-back calls; the time per call
// is the slowest rank's average. Rank 0 prints one line per size:
//   RESULT <impl> <bytes> <microseconds per call> <algbw GB/s> <busbw GB/s>
// busbw = algbw * 2(n-1)/n, as nccl-tests report it.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace {

using Clock = std::chrono::steady_clock;

// The two libraries behind one face.
class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual void allReduce(const float* in, float* out, size_t count) = 0;
  virtual double maxOverRanks(double v) = 0;
  virtual void barrier() = 0;
};

[[noreturn]] void die(const char* what, const char* detail) {
  std::fprintf(stderr, "netns_allreduce_bench: %s: %s\n", what, detail);
  std::exit(1);
}

class StrataCollective final : public Collective {
 public:
  StrataCollective() {
    if (strataCommInitFromEnv(&comm_, nullptr) != strataSuccess)
      die("strataCommInitFromEnv", strataGetLastError(nullptr));
    strataCommUserRank(comm_, &rank_);
    strataCommCount(comm_, &size_);
  }
  ~StrataCollective() override {
    strataCommFinalize(comm_);
    strataCommDestroy(comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allReduce(const float* in, float* out, size_t count) override {
    check(strataAllReduce(in, out, count, strataFloat32, strataSum, comm_, nullptr));
  }
  double maxOverRanks(double v) override {
    check(strataAllReduce(&v, &v, 1, strataFloat64, strataMax, comm_, nullptr));
    return v;
  }
  void barrier() override { check(strataBarrier(comm_, nullptr)); }

 private:
  void check(strataResult_t r) {
    if (r != strataSuccess) die(strataGetErrorString(r), strataGetLastError(comm_));
  }
  strataComm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1;
};

class MpiCollective final : public Collective {
 public:
  MpiCollective(int* argc, char*** argv) {
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCollective() override { MPI_Finalize(); }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allReduce(const float* in, float* out, size_t count) override {
    MPI_Allreduce(in, out, static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  double maxOverRanks(double v) override {
    double out = 0;
    MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return out;
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }

 private:
  int rank_ = 0, size_ = 1;
};

// Enough calls for about a quarter second of traffic, within [5, 2000].
int itersFor(size_t bytes) {
  const size_t target = size_t{256} << 20;
  return static_cast<int>(std::clamp<size_t>(target / std::max<size_t>(bytes, 1), 5, 2000));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string impl = argc > 1 ? argv[1] : "";
  if (impl != "strata" && impl != "mpi") {
    std::fprintf(stderr, "usage: %s strata|mpi [sizes in bytes...]\n", argv[0]);
    return 2;
  }
  std::vector<size_t> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {8, 1 << 10, 64 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20};

  Collective* c = nullptr;
  if (impl == "mpi")
    c = new MpiCollective(&argc, &argv);
  else
    c = new StrataCollective();
  const int n = c->size();
  for (size_t bytes : sizes) {
    const size_t count = std::max<size_t>(1, bytes / sizeof(float));
    std::vector<float> in(count, 1.0f + static_cast<float>(c->rank())), out(count, 0.0f);
    const int iters = itersFor(bytes);
    for (int i = 0; i < std::max(2, iters / 10); ++i) c->allReduce(in.data(), out.data(), count);
    c->barrier();
    const auto start = Clock::now();
    for (int i = 0; i < iters; ++i) c->allReduce(in.data(), out.data(), count);
    const double mine = std::chrono::duration<double>(Clock::now() - start).count() / iters;
    const double t = c->maxOverRanks(mine);
    const float want = static_cast<float>(n) * (static_cast<float>(n) + 1.0f) / 2.0f;
    if (out[0] != want || out[count - 1] != want) {
      std::fprintf(stderr, "rank %d: %s AllReduce of %zu bytes gave %g, expected %g\n", c->rank(),
                   impl.c_str(), bytes, static_cast<double>(out[0]), static_cast<double>(want));
      return 1;
    }
    const double payload = static_cast<double>(count * sizeof(float));
    const double algbw = payload / t / 1e9;
    const double busbw = algbw * 2.0 * (n - 1) / n;
    if (c->rank() == 0)
      std::printf("RESULT %s %zu %.2f %.3f %.3f\n", impl.c_str(), count * sizeof(float), t * 1e6,
                  algbw, busbw);
    std::fflush(stdout);
  }
  delete c;
  return 0;
}
