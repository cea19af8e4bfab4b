#include "common/rank_sweep.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "common/datatypes.h"
#include "common/sim_launch.h"

namespace strata::perf {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kPageBytes = 4096;

uint64_t mixSeed(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9e3779b97f4a7c15ull + b + 0x632be59bd9b4e019ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

void HostBuffer::Free::operator()(char* p) const {
  if (shared)
    strataMemFree(p);
  else
    std::free(p);
}

HostBuffer::HostBuffer(size_t bytes, bool shared) : data_(nullptr, Free{shared}), size_(bytes) {
  void* p = nullptr;
  const size_t rounded = (std::max(bytes, size_t{1}) + kPageBytes - 1) / kPageBytes * kPageBytes;
  capacity_ = rounded;
  if (shared) {
    if (strataMemAlloc(&p, rounded) != strataSuccess)
      throw std::runtime_error(std::string("strataMemAlloc failed: ") +
                               strataGetLastError(nullptr));
  } else if (posix_memalign(&p, kPageBytes, rounded) != 0) {
    throw std::bad_alloc();
  }
  std::memset(p, 0, rounded);  // fault the pages in before anything is timed
  data_.reset(static_cast<char*>(p));
}

RankSweep::RankSweep(const Collective& coll, const PerfOptions& opts, strataComm_t comm,
                     Report* report)
    : coll_(coll), opts_(opts), comm_(comm), report_(report) {
  expect(strataCommUserRank(comm_, &rank_), "strataCommUserRank");
  expect(strataCommCount(comm_, &nranks_), "strataCommCount");
  // Every rank reaches the same verdict, before any collective call.
  if (coll_.rooted() && opts_.root >= nranks_)
    throw UsageError("-r " + std::to_string(opts_.root) + " is not a rank of this " +
                     std::to_string(nranks_) + "-rank run");
  if (!opts_.streamNull) expect(strataStreamCreate(&stream_), "strataStreamCreate");
}

RankSweep::~RankSweep() {
  if (stream_) strataStreamDestroy(stream_);
  if (sendWin_) strataCommWindowDeregister(comm_, sendWin_);
  if (recvWin_) strataCommWindowDeregister(comm_, recvWin_);
}

void RankSweep::expect(strataResult_t r, const char* what) {
  if (r == strataSuccess) return;
  throw std::runtime_error(std::string(what) + " failed: " + strataGetErrorString(r) + ": " +
                           strataGetLastError(comm_));
}

std::vector<RankIdentity> RankSweep::gatherIdentities() {
  struct Wire {
    int32_t pid;
    char host[60];
  };
  Wire mine{};
  mine.pid = static_cast<int32_t>(getpid());
  gethostname(mine.host, sizeof mine.host - 1);
  std::vector<Wire> all(static_cast<size_t>(nranks_));
  expect(strataAllGather(&mine, all.data(), sizeof(Wire), strataUint8, comm_, nullptr),
         "strataAllGather (rank identities)");
  std::vector<RankIdentity> ids;
  for (int r = 0; r < nranks_; ++r) {
    const Wire& w = all[static_cast<size_t>(r)];
    ids.push_back({r, w.pid, std::string(w.host, strnlen(w.host, sizeof w.host))});
  }
  return ids;
}

// Sized for the largest case of the sweep, like nccl-tests' maxBytes buffers; smaller sizes
// move through the buffers from one iteration to the next (see pointers()).
void RankSweep::allocate() {
  size_t sendCap = 0, recvCap = 0, expectedCap = 0;
  for (strataDataType_t type : opts_.types) {
    const size_t ts = typeSize(type);
    for (size_t bytes : sweepSizes(opts_)) {
      const CallShape s = coll_.shape(bytes, type, rank_, nranks_);
      sendCap = std::max(sendCap, s.sendElems * ts);
      recvCap = std::max(recvCap, std::max(s.recvElems, s.inPlaceElems(rank_)) * ts);
      expectedCap = std::max(expectedCap, s.recvElems * ts);
    }
  }
  const bool shared = opts_.registration != 0;
  if (sendWin_) expect(strataCommWindowDeregister(comm_, sendWin_), "strataCommWindowDeregister");
  if (recvWin_) expect(strataCommWindowDeregister(comm_, recvWin_), "strataCommWindowDeregister");
  sendWin_ = recvWin_ = nullptr;
  send_ = HostBuffer(sendCap, shared);
  recv_ = HostBuffer(recvCap, shared);
  if (shared) {  // collective, like the sweep itself
    expect(strataCommWindowRegister(comm_, send_.data(), send_.capacity(), &sendWin_, 0),
           "strataCommWindowRegister (send buffer)");
    expect(strataCommWindowRegister(comm_, recv_.data(), recv_.capacity(), &recvWin_, 0),
           "strataCommWindowRegister (receive buffer)");
  }
  if (opts_.check) expected_ = HostBuffer(expectedCap);
}

// As nccl-tests does, iteration i uses the buffers at an offset of i times the call's extent
// (wrapping within the allocation), so that a small size is not timed on one cache-hot spot.
RankSweep::Pointers RankSweep::pointers(const CallShape& shape, const TestCase& tc, bool inPlace,
                                        int iter) const {
  const size_t ts = typeSize(tc.type);
  const auto r = static_cast<size_t>(rank_);
  size_t stride, steps;
  if (inPlace) {
    stride = shape.inPlaceElems(rank_) * ts;
    steps = stride ? recv_.size() / stride : 1;
  } else {
    stride = std::max(shape.sendElems, shape.recvElems) * ts;
    steps = stride ? std::min(send_.size(), recv_.size()) / stride : 1;
  }
  const size_t shift = stride * (static_cast<size_t>(iter) % std::max(steps, size_t{1}));
  if (inPlace) {
    char* base = recv_.data() + shift;
    return {base + r * shape.sendInPlaceOffset * ts, base + r * shape.recvInPlaceOffset * ts};
  }
  return {send_.data() + shift, recv_.data() + shift};
}

void RankSweep::call(const CallShape& shape, const TestCase& tc, bool inPlace, int iter) {
  const Pointers p = pointers(shape, tc, inPlace, iter);
  strataResult_t r = strataSuccess;
  if (tc.op == kPreMulSum && coll_.reduces()) {
    // As nccl-tests: an op made for this call with this rank's scalar, destroyed once the call
    // has been issued (a call queued on the stream keeps its scalar).
    alignas(8) unsigned char scalar[8] = {};
    storeScalar(scalar, tc.type, preMulScalar(rank_));
    TestCase premul = tc;
    expect(strataRedOpCreatePreMulSum(&premul.op, scalar, tc.type, strataScalarHostImmediate,
                                      comm_),
           "strataRedOpCreatePreMulSum");
    r = coll_.run(p.send, p.recv, shape, premul, comm_, stream_);
    expect(strataRedOpDestroy(premul.op, comm_), "strataRedOpDestroy");
  } else {
    r = coll_.run(p.send, p.recv, shape, tc, comm_, stream_);
  }
  if (r != strataSuccess) {
    const std::string what = std::string(coll_.name()) + " (" + typeName(tc.type) +
                             (coll_.reduces() ? std::string(" ") + opName(tc.op) : "") + ", " +
                             std::to_string(shape.bytes) + " bytes, " +
                             (inPlace ? "in place" : "out of place") + ")";
    expect(r, what.c_str());
  }
}

void RankSweep::complete() {
  if (stream_) expect(strataStreamSynchronize(stream_), "strataStreamSynchronize");
}

void RankSweep::prepareInputs(const CallShape& shape, const TestCase& tc, bool inPlace,
                              uint64_t seed) {
  const size_t ts = typeSize(tc.type);
  const ValueSpec values{tc.type, tc.op, seed, nranks_};
  if (inPlace) {
    std::memset(recv_.data(), 0, shape.inPlaceElems(rank_) * ts);
    char* send = recv_.data() + static_cast<size_t>(rank_) * shape.sendInPlaceOffset * ts;
    coll_.fillInput(send, shape, tc, values);
  } else {
    std::memset(recv_.data(), 0, shape.recvElems * ts);
    coll_.fillInput(send_.data(), shape, tc, values);
  }
}

int64_t RankSweep::checkOutputs(const CallShape& shape, const TestCase& tc, bool inPlace,
                                uint64_t seed, double* maxAbsError) {
  prepareInputs(shape, tc, inPlace, seed);
  call(shape, tc, inPlace, 0);
  complete();
  const ValueSpec values{tc.type, tc.op, seed, nranks_};
  coll_.fillExpected(expected_.data(), shape, tc, values, inPlace);
  const Pointers p = pointers(shape, tc, inPlace, 0);
  double err = -1;
  int64_t wrong = static_cast<int64_t>(coll_.countWrong(p.recv, expected_.data(), shape, tc, &err));
  expect(strataAllReduce(&wrong, &wrong, 1, strataInt64, strataSum, comm_, nullptr),
         "strataAllReduce (#wrong)");
  if (coll_.reportsError()) {
    expect(strataAllReduce(&err, &err, 1, strataFloat64, strataMax, comm_, nullptr),
           "strataAllReduce (max error)");
    *maxAbsError = std::max(*maxAbsError, err);
  }
  return wrong;
}

double RankSweep::combineTime(double seconds) {
  double t = seconds;
  switch (opts_.average) {
    case 0:
      expect(strataBroadcast(&t, &t, 1, strataFloat64, 0, comm_, nullptr),
             "strataBroadcast (time)");
      return t;
    case 2:
      expect(strataAllReduce(&t, &t, 1, strataFloat64, strataMin, comm_, nullptr),
             "strataAllReduce (time)");
      return t;
    case 3:
      expect(strataAllReduce(&t, &t, 1, strataFloat64, strataMax, comm_, nullptr),
             "strataAllReduce (time)");
      return t;
    default:
      expect(strataAllReduce(&t, &t, 1, strataFloat64, strataSum, comm_, nullptr),
             "strataAllReduce (time)");
      return t / nranks_;
  }
}

// The simulated time of one call: how far the largest clock over ranks advanced, per call. Every
// rank gets the same value; -a does not apply.
double RankSweep::simulatedSeconds(double clockBeforeUs, double calls) {
  double clocks[2] = {clockBeforeUs, simClockUs(comm_)};
  expect(strataAllReduce(clocks, clocks, 2, strataFloat64, strataMax, comm_, nullptr),
         "strataAllReduce (simulated clocks)");
  return (clocks[1] - clocks[0]) / calls * 1e-6;
}

CellResult RankSweep::bench(const CallShape& shape, const TestCase& tc, bool inPlace,
                            uint64_t seed) {
  if (opts_.check) prepareInputs(shape, tc, inPlace, seed);
  call(shape, tc, inPlace, 0);
  complete();
  strataStats_t stats{};
  expect(strataCommGetStats(comm_, &stats), "strataCommGetStats");
  const std::string algo = stats.lastAlgo;
  const std::string algoSource = stats.lastAlgoSource;
  expect(strataBarrier(comm_, nullptr), "strataBarrier");

  const bool sim = !opts_.sim.empty();
  const double clockBeforeUs = sim ? simClockUs(comm_) : 0.0;
  const auto start = Clock::now();
  for (int iter = 0; iter < opts_.iters; ++iter) {
    if (opts_.aggIters > 1) expect(strataGroupStart(), "strataGroupStart");
    for (int a = 0; a < opts_.aggIters; ++a) call(shape, tc, inPlace, iter * opts_.aggIters + a);
    if (opts_.aggIters > 1) expect(strataGroupEnd(), "strataGroupEnd");
    if (opts_.blocking) {
      complete();
      expect(strataBarrier(comm_, nullptr), "strataBarrier");
    }
  }
  const auto issued = Clock::now();
  complete();
  const auto done = Clock::now();
  const double calls = static_cast<double>(opts_.iters) * opts_.aggIters;
  const double seconds =
      std::chrono::duration<double>((opts_.reportCpuTime ? issued : done) - start).count() / calls;

  CellResult cell;
  cell.algo = algo;
  cell.algoSource = algoSource;
  const double t = sim ? simulatedSeconds(clockBeforeUs, calls) : combineTime(seconds);
  cell.timeUs = t * 1e6;
  cell.algBw = t > 0 ? static_cast<double>(shape.bytes) / t / 1e9 : 0.0;
  cell.busBw = cell.algBw * coll_.busBwFactor(nranks_);
  if (opts_.check && (!inPlace || coll_.checksInPlace())) {
    cell.checked = true;
    for (int c = 0; c < opts_.check && cell.wrong == 0; ++c)
      cell.wrong = checkOutputs(shape, tc, inPlace, mixSeed(seed, static_cast<uint64_t>(c) + 1),
                                &cell.maxAbsError);
  }
  return cell;
}

// One cycle of the size sweep for one type, op and root; the number of cells with wrong values.
// The warm-up belongs to the first cycle.
int RankSweep::runSizes(const TestCase& tc, int cycle, uint64_t& caseIndex) {
  int failed = 0;
  for (size_t bytes : sweepSizes(opts_)) {
    const CallShape shape = coll_.shape(bytes, tc.type, rank_, nranks_);
    if (report_)
      report_->beginRow(shape.bytes, shape.count, typeName(tc.type),
                        coll_.reduces() ? opName(tc.op) : "none", tc.root, cycle);
    if (cycle == 0)
      for (int w = 0; w < opts_.warmupIters; ++w) call(shape, tc, false, w);
    complete();
    const uint64_t seed = mixSeed(0x5eed, ++caseIndex);
    const CellResult outOfPlace = bench(shape, tc, false, mixSeed(seed, 0));
    if (report_) report_->addCell(outOfPlace);
    const CellResult inPlace = bench(shape, tc, true, mixSeed(seed, 1));
    if (report_) {
      report_->addCell(inPlace);
      report_->endRow();
    }
    failed += (outOfPlace.wrong != 0) + (inPlace.wrong != 0);
  }
  return failed;
}

int RankSweep::run() {
  allocate();
  std::vector<int> roots;
  if (!coll_.rooted()) {
    roots = {-1};
  } else if (opts_.root == -1) {
    for (int r = 0; r < nranks_; ++r) roots.push_back(r);
  } else {
    roots = {opts_.root};
  }
  const std::vector<strataRedOp_t> ops =
      coll_.reduces() ? opts_.ops : std::vector<strataRedOp_t>{strataSum};

  int failed = 0;
  uint64_t caseIndex = 0;
  for (strataDataType_t type : opts_.types) {
    for (strataRedOp_t op : ops) {
      for (int root : roots) {
        const TestCase tc{type, op, root, rank_, nranks_};
        // -N: the sweep again, as nccl-tests' run cycles (0: until the tool is stopped).
        for (int cycle = 0; opts_.runCycles == 0 || cycle < opts_.runCycles; ++cycle)
          failed += runSizes(tc, cycle, caseIndex);
      }
    }
  }
  return failed;
}

}  // namespace strata::perf
