// compare_mpi: Strata against Open MPI on the same host, in one run, rounds interleaved.
//
//   mpirun -np 2 --allow-run-as-root compare_mpi [-b 8] [-e 64M] [-f 2] [-n 20] [-r 5] [-w 5]
//
// Every process initialises Strata (the unique id travels by MPI_Bcast) next to MPI. For each
// size and for each of AllReduce, AllGather and ReduceScatter (float32, sum), every round times a
// batch of n Strata calls, a batch of n MPI calls (MPI_Allreduce, MPI_Allgather,
// MPI_Reduce_scatter) on the same buffers, and, for AllReduce, n single-core memcpy calls of the
// size on rank 0 alone; which library goes first alternates between rounds. A round's time is
// the slowest rank's; the table shows medians over rounds, bus bandwidths with nccl-tests'
// factors, and the ratios. Sizes follow nccl-tests: the total bytes of the gathered or reduced
// buffer.
#include <mpi.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/options.h"
#include "strata/strata.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * 1024;

struct Options {
  std::string minText = "8";
  std::string maxText = "64M";
  size_t minBytes = 8;
  size_t maxBytes = 64 * kMiB;
  int factor = 2;
  int iters = 20;
  int rounds = 5;
  int warmup = 5;
  int registration = 0;  // 1: Strata's buffers from strataMemAlloc, registered as a window
};

enum class Coll { kAllReduce, kAllGather, kReduceScatter };

const char* collName(Coll c) {
  switch (c) {
    case Coll::kAllReduce:
      return "AllReduce";
    case Coll::kAllGather:
      return "AllGather";
    case Coll::kReduceScatter:
      return "ReduceScatter";
  }
  return "?";
}

double busFactor(Coll c, int n) {
  return c == Coll::kAllReduce ? 2.0 * (n - 1) / n : static_cast<double>(n - 1) / n;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

std::string sizeText(size_t bytes) {
  char buf[32];
  if (bytes >= kMiB && bytes % kMiB == 0) {
    std::snprintf(buf, sizeof buf, "%zuM", bytes / kMiB);
  } else if (bytes >= kKiB && bytes % kKiB == 0) {
    std::snprintf(buf, sizeof buf, "%zuK", bytes / kKiB);
  } else {
    std::snprintf(buf, sizeof buf, "%zu", bytes);
  }
  return buf;
}

[[noreturn]] void fail(int rank, const std::string& what) {
  std::fprintf(stderr, "compare_mpi: rank %d: %s\n", rank, what.c_str());
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

void expectStrata(strataResult_t r, const char* call, strataComm_t comm, int rank) {
  if (r != strataSuccess)
    fail(rank, std::string(call) + " failed: " + strataGetErrorString(r) + ": " +
                   strataGetLastError(comm));
}

// One size of one collective: medians over rounds, in seconds per call.
struct Measurement {
  Coll coll;
  size_t bytes;
  double strata;
  double mpi;
  double memcpy;  // AllReduce rows only; 0 otherwise
};

class Bench {
 public:
  Bench(const Options& o, strataComm_t comm, int rank, int nranks)
      : o_(o),
        comm_(comm),
        rank_(rank),
        n_(nranks),
        elems_(o.maxBytes / sizeof(float) + 1),
        copy_(elems_) {
    // -R 1: both buffers in one strataMemAlloc allocation registered as a window (MPI uses the
    // same buffers); otherwise heap memory.
    if (o.registration != 0) {
      expectStrata(strataMemAlloc(&shared_, 2 * elems_ * sizeof(float)), "strataMemAlloc", comm,
                   rank);
      expectStrata(strataCommWindowRegister(comm, shared_, 2 * elems_ * sizeof(float), &win_, 0),
                   "strataCommWindowRegister", comm, rank);
      send_ = static_cast<float*>(shared_);
    } else {
      heap_.resize(2 * elems_);
      send_ = heap_.data();
    }
    recv_ = send_ + elems_;
    // Small integers: float sums are exact, so Strata and MPI must agree bit for bit.
    for (size_t i = 0; i < elems_; ++i)
      send_[i] = static_cast<float>((i + static_cast<size_t>(rank)) % 7);
  }
  ~Bench() {
    if (win_) strataCommWindowDeregister(comm_, win_);
    if (shared_) strataMemFree(shared_);
  }
  Bench(const Bench&) = delete;
  Bench& operator=(const Bench&) = delete;

  Measurement measure(Coll c, size_t bytes) {
    const size_t elems = bytes / sizeof(float);
    const size_t perRank = elems / static_cast<size_t>(n_);
    std::function<void()> strataCall, mpiCall;
    switch (c) {
      case Coll::kAllReduce:
        strataCall = [=, this] {
          expectStrata(
              strataAllReduce(send_, recv_, elems, strataFloat32, strataSum, comm_, nullptr),
              "strataAllReduce", comm_, rank_);
        };
        mpiCall = [=, this] {
          MPI_Allreduce(send_, recv_, static_cast<int>(elems), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        };
        break;
      case Coll::kAllGather:
        strataCall = [=, this] {
          expectStrata(strataAllGather(send_, recv_, perRank, strataFloat32, comm_, nullptr),
                       "strataAllGather", comm_, rank_);
        };
        mpiCall = [=, this] {
          MPI_Allgather(send_, static_cast<int>(perRank), MPI_FLOAT, recv_,
                        static_cast<int>(perRank), MPI_FLOAT, MPI_COMM_WORLD);
        };
        break;
      case Coll::kReduceScatter:
        strataCall = [=, this] {
          expectStrata(
              strataReduceScatter(send_, recv_, perRank, strataFloat32, strataSum, comm_, nullptr),
              "strataReduceScatter", comm_, rank_);
        };
        mpiCall = [this,
                   counts = std::vector<int>(static_cast<size_t>(n_), static_cast<int>(perRank))] {
          MPI_Reduce_scatter(send_, recv_, counts.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        };
        break;
    }
    const size_t outElems = c == Coll::kReduceScatter ? perRank
                            : c == Coll::kAllGather   ? perRank * static_cast<size_t>(n_)
                                                      : elems;
    checkAgreement(c, strataCall, mpiCall, outElems);

    for (int i = 0; i < o_.warmup; ++i) {
      strataCall();
      mpiCall();
    }
    std::vector<double> strataT, mpiT, copyT;
    for (int r = 0; r < o_.rounds; ++r) {
      if (r % 2 == 0) {
        strataT.push_back(batch(strataCall));
        mpiT.push_back(batch(mpiCall));
      } else {
        mpiT.push_back(batch(mpiCall));
        strataT.push_back(batch(strataCall));
      }
      if (c == Coll::kAllReduce) copyT.push_back(memcpyBatch(bytes));
    }
    Measurement m{c, bytes, median(strataT), median(mpiT), 0.0};
    if (c == Coll::kAllReduce) {
      double t = median(copyT);
      MPI_Bcast(&t, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
      m.memcpy = t;
    }
    return m;
  }

 private:
  // Seconds per call of the slowest rank over a batch of n calls.
  double batch(const std::function<void()>& call) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto start = Clock::now();
    for (int i = 0; i < o_.iters; ++i) call();
    double t = std::chrono::duration<double>(Clock::now() - start).count() / o_.iters;
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return t;
  }

  // Seconds per memcpy of `bytes` on rank 0 while the others wait. Small copies repeat until
  // about 1 MiB has moved, so the clock's resolution does not dominate.
  double memcpyBatch(size_t bytes) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t = 0;
    if (rank_ == 0) {
      const size_t reps = std::max(static_cast<size_t>(o_.iters), std::min(kMiB / bytes, kMiB));
      const auto start = Clock::now();
      for (size_t i = 0; i < reps; ++i) {
        std::memcpy(copy_.data(), send_, bytes);
        asm volatile("" : : "r"(copy_.data()) : "memory");  // keep every copy
      }
      t = std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(reps);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return t;
  }

  // Both libraries must produce the same bits from the same inputs.
  void checkAgreement(Coll c, const std::function<void()>& strataCall,
                      const std::function<void()>& mpiCall, size_t outElems) {
    std::fill(recv_, recv_ + elems_, -1.0f);
    strataCall();
    std::vector<float> strataOut(recv_, recv_ + outElems);
    std::fill(recv_, recv_ + elems_, -2.0f);
    mpiCall();
    int differ = std::memcmp(strataOut.data(), recv_, outElems * sizeof(float)) != 0;
    MPI_Allreduce(MPI_IN_PLACE, &differ, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (differ)
      fail(rank_, std::string(collName(c)) + ": Strata and MPI results differ at " +
                      std::to_string(outElems * sizeof(float)) + " bytes");
  }

  const Options& o_;
  strataComm_t comm_;
  int rank_;
  int n_;
  size_t elems_;
  std::vector<float> heap_;
  void* shared_ = nullptr;
  strataWindow_t win_ = nullptr;
  float* send_ = nullptr;
  float* recv_ = nullptr;
  std::vector<float> copy_;
};

void printTable(Coll c, const std::vector<Measurement>& rows, int n, const Options& o) {
  std::printf("#\n# %s, float32%s, %d ranks: medians of %d interleaved rounds of %d calls\n",
              collName(c), c == Coll::kAllGather ? "" : " sum", n, o.rounds, o.iters);
  const bool withCopy = c == Coll::kAllReduce;
  std::printf("# %10s  %10s  %10s  %12s  %12s  %10s", "size(B)", "strata_us", "mpi_us",
              "strata_busbw", "mpi_busbw", "strata/mpi");
  if (withCopy) std::printf("  %11s  %13s", "memcpy_GB/s", "strata/memcpy");
  std::printf("\n");
  for (const Measurement& m : rows) {
    const double b = static_cast<double>(m.bytes);
    const double sBus = b / m.strata / 1e9 * busFactor(c, n);
    const double mBus = b / m.mpi / 1e9 * busFactor(c, n);
    std::printf("  %10zu  %10.2f  %10.2f  %12.3f  %12.3f  %10.2f", m.bytes, m.strata * 1e6,
                m.mpi * 1e6, sBus, mBus, m.mpi / m.strata);
    if (withCopy) {
      const double copyBw = m.memcpy > 0 ? b / m.memcpy / 1e9 : 0.0;
      std::printf("  %11.3f  %13.2f", copyBw, copyBw > 0 ? sBus / copyBw : 0.0);
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

// One target of the issue, judged on the sizes of the run that fall in its range.
void printTarget(const char* text, const std::vector<Measurement>& rows, size_t lo, size_t hi,
                 double goal, const std::function<double(const Measurement&)>& value) {
  double worst = INFINITY;
  size_t worstSize = 0;
  for (const Measurement& m : rows) {
    if (m.bytes < lo || m.bytes > hi) continue;
    const double v = value(m);
    if (v < worst) {
      worst = v;
      worstSize = m.bytes;
    }
  }
  if (worstSize == 0 && worst == INFINITY) {
    std::printf("#   %-58s no size of this run in range\n", text);
    return;
  }
  std::printf("#   %-58s worst %.2f at %s: %s\n", text, worst, sizeText(worstSize).c_str(),
              worst >= goal ? "met" : "not met");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Strata against Open MPI (AllReduce, AllGather, ReduceScatter) and memcpy",
               "compare_mpi"};
  app.footer("Run: mpirun -np 2 [--allow-run-as-root] compare_mpi [options]");
  app.add_option("-b,--minbytes", o.minText, "smallest size (K/M/G suffixes)")
      ->capture_default_str();
  app.add_option("-e,--maxbytes", o.maxText, "largest size (K/M/G suffixes)")
      ->capture_default_str();
  using strata::perf::IntOption;
  std::vector<IntOption> ints = {
      {"-f/--stepfactor", "size multiplier", &o.factor, 2, 1024},
      {"-n/--iters", "calls per timed batch", &o.iters, 1, INT_MAX},
      {"-r/--rounds", "interleaved rounds per size (the median is shown)", &o.rounds, 1, INT_MAX},
      {"-w/--warmup_iters", "untimed calls of each library per size", &o.warmup, 0, INT_MAX},
      {"-R/--local_register",
       "1: Strata's buffers from strataMemAlloc registered as a window (direct algorithms)",
       &o.registration, 0, 2},
  };
  for (IntOption& i : ints) strata::perf::addIntOption(app, i);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  for (IntOption& i : ints) {
    if (auto message = strata::perf::checkIntOption(i)) {
      std::fprintf(stderr, "compare_mpi: %s\nRun with --help for more information.\n",
                   message->c_str());
      return 2;
    }
  }
  const auto minBytes = strata::perf::parseSize(o.minText);
  const auto maxBytes = strata::perf::parseSize(o.maxText);
  if (!minBytes || !maxBytes || *minBytes > *maxBytes) {
    std::fprintf(stderr, "compare_mpi: invalid sizes '%s' .. '%s'\n", o.minText.c_str(),
                 o.maxText.c_str());
    return 2;
  }
  o.minBytes = std::max<size_t>(*minBytes, 1);
  o.maxBytes = *maxBytes;

  MPI_Init(&argc, &argv);
  int rank = 0, n = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  strataUniqueId id{};
  if (rank == 0) expectStrata(strataGetUniqueId(&id), "strataGetUniqueId", nullptr, rank);
  MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
  strataComm_t comm = nullptr;
  expectStrata(strataCommInitRank(&comm, n, id, rank), "strataCommInitRank", nullptr, rank);

  char mpiVersion[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  MPI_Get_library_version(mpiVersion, &len);
  if (char* nl = std::strchr(mpiVersion, '\n')) *nl = '\0';
  if (char* comma = std::strchr(mpiVersion, ',')) *comma = '\0';
  if (rank == 0) {
    int version = 0;
    strataGetVersion(&version);
    double load[1] = {0};
    getloadavg(load, 1);
    std::printf(
        "# compare_mpi: Strata %d.%d.%d vs %s, %d ranks on this host (%ld cores, load "
        "average %.2f at start)\n",
        version / 10000, version / 100 % 100, version % 100, mpiVersion, n,
        sysconf(_SC_NPROCESSORS_ONLN), load[0]);
    std::printf(
        "# busbw factors as nccl-tests: AllReduce 2(n-1)/n, AllGather and ReduceScatter "
        "(n-1)/n; strata/mpi = busbw ratio (mpi time / strata time)\n");
    std::printf("# Strata's buffers: %s\n", o.registration != 0
                                                ? "strataMemAlloc, registered as a window (-R 1)"
                                                : "heap (-R 0)");
  }

  std::optional<Bench> bench(std::in_place, o, comm, rank, n);
  std::vector<size_t> sizes;
  for (size_t s = o.minBytes; s <= o.maxBytes; s *= static_cast<size_t>(o.factor))
    sizes.push_back(s);
  std::vector<Measurement> all[3];
  const Coll colls[] = {Coll::kAllReduce, Coll::kAllGather, Coll::kReduceScatter};
  for (int ci = 0; ci < 3; ++ci) {
    for (size_t bytes : sizes) {
      // The gathered and scattered sizes hold one float per rank at least.
      if (colls[ci] != Coll::kAllReduce && bytes < sizeof(float) * static_cast<size_t>(n)) continue;
      if (bytes < sizeof(float)) continue;
      all[ci].push_back(bench->measure(colls[ci], bytes));
    }
    if (rank == 0) printTable(colls[ci], all[ci], n, o);
  }

  if (rank == 0) {
    const double f = busFactor(Coll::kAllReduce, n);
    std::printf("#\n# Targets (the issue's, stated for 2 ranks float32 sum):\n");
    auto ratio = [](const Measurement& m) { return m.mpi / m.strata; };
    printTarget("AllReduce busbw >= 2x Open MPI, 64K-16M", all[0], 64 * kKiB, 16 * kMiB, 2.0,
                ratio);
    printTarget("AllReduce latency <= Open MPI, 8B-1K (mpi_us/strata_us)", all[0], 8, kKiB, 1.0,
                ratio);
    printTarget("AllReduce busbw >= 50% of memcpy, >= 16M", all[0], 16 * kMiB, SIZE_MAX, 0.5,
                [f](const Measurement& m) {
                  return m.memcpy > 0 ? (static_cast<double>(m.bytes) / m.strata * f) /
                                            (static_cast<double>(m.bytes) / m.memcpy)
                                      : 0.0;
                });
    printTarget("AllGather busbw >= 1.5x Open MPI, 64K-16M", all[1], 64 * kKiB, 16 * kMiB, 1.5,
                ratio);
    printTarget("ReduceScatter busbw >= 1.5x Open MPI, 64K-16M", all[2], 64 * kKiB, 16 * kMiB, 1.5,
                ratio);
    if (o.registration != 0) {
      std::printf("# Targets with registered windows (-R 1):\n");
      printTarget("AllGather algbw >= 2x Open MPI, 64K-16M", all[1], 64 * kKiB, 16 * kMiB, 2.0,
                  ratio);
      printTarget("AllReduce busbw >= 3x Open MPI, 64K-16M", all[0], 64 * kKiB, 16 * kMiB, 3.0,
                  ratio);
      printTarget("AllReduce busbw >= 70% of memcpy, >= 16M", all[0], 16 * kMiB, SIZE_MAX, 0.7,
                  [f](const Measurement& m) {
                    return m.memcpy > 0 ? (static_cast<double>(m.bytes) / m.strata * f) /
                                              (static_cast<double>(m.bytes) / m.memcpy)
                                        : 0.0;
                  });
      printTarget("AllReduce latency <= 0.5x Open MPI's, 8B (mpi_us/strata_us >= 2)", all[0], 8, 8,
                  2.0, ratio);
    }
    std::fflush(stdout);
  }

  bench.reset();  // deregisters its window while the communicator lives
  expectStrata(strataCommFinalize(comm), "strataCommFinalize", comm, rank);
  strataCommDestroy(comm);
  MPI_Finalize();
  return 0;
}
