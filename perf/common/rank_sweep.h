// One rank's part of a perf run: for every type, op, root and size, the out-of-place and in-place
// variants, each timed over -n iterations after a warm-up and then checked against seeded inputs.
// With --sim the time is the simulated one: the growth of the largest virtual clock over ranks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "common/collective.h"
#include "common/options.h"
#include "common/report.h"
#include "strata/strata.h"

namespace strata::perf {

// An option value that only turns out wrong once the ranks are known (a root beyond them).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Zeroed memory aligned to a page, freed on destruction; from strataMemAlloc when `shared`
// (to be registered as a window, -R).
class HostBuffer {
 public:
  HostBuffer() = default;
  explicit HostBuffer(size_t bytes, bool shared = false);
  char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }  // size rounded up to a page

 private:
  struct Free {
    bool shared;  // from strataMemAlloc
    void operator()(char* p) const;
  };
  std::unique_ptr<char, Free> data_{nullptr, Free{false}};
  size_t size_ = 0;
  size_t capacity_ = 0;
};

class RankSweep {
 public:
  // report is rank 0's, nullptr on the other ranks. Throws UsageError when the options do not
  // fit the communicator.
  RankSweep(const Collective& coll, const PerfOptions& opts, strataComm_t comm, Report* report);
  ~RankSweep();
  RankSweep(const RankSweep&) = delete;
  RankSweep& operator=(const RankSweep&) = delete;

  int rank() const { return rank_; }
  int nranks() const { return nranks_; }

  // This rank's pid and host, gathered to rank 0 for the header.
  std::vector<RankIdentity> gatherIdentities();

  // Runs every case. Returns the number of cells with wrong values, the same on every rank.
  // Throws std::runtime_error when a call fails.
  int run();

 private:
  struct Pointers {
    const void* send;
    void* recv;
  };

  void allocate();
  Pointers pointers(const CallShape& shape, const TestCase& tc, bool inPlace, int iter) const;
  void call(const CallShape& shape, const TestCase& tc, bool inPlace, int iter);
  void complete();
  void prepareInputs(const CallShape& shape, const TestCase& tc, bool inPlace, uint64_t seed);
  // The wrong elements summed over ranks; *maxAbsError the largest error over ranks (when the
  // collective measures it).
  int64_t checkOutputs(const CallShape& shape, const TestCase& tc, bool inPlace, uint64_t seed,
                       double* maxAbsError);
  CellResult bench(const CallShape& shape, const TestCase& tc, bool inPlace, uint64_t seed);
  int runSizes(const TestCase& tc, int cycle, uint64_t& caseIndex);
  double combineTime(double seconds);
  double simulatedSeconds(double clockBeforeUs, double calls);
  void expect(strataResult_t r, const char* what);

  const Collective& coll_;
  const PerfOptions& opts_;
  strataComm_t comm_;
  Report* report_;
  strataStream_t stream_ = nullptr;
  int rank_ = 0;
  int nranks_ = 1;
  HostBuffer send_, recv_, expected_;
  strataWindow_t sendWin_ = nullptr, recvWin_ = nullptr;  // -R: send_ and recv_ as windows
};

}  // namespace strata::perf
