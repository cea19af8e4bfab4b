// Collectives through the sim transport (ranks as threads, real payload): every collective's
// data, the closed-form α-β oracles read back through strataCommGetStats, determinism, equality
// with timing-only evaluation, port contention, statistics and configuration errors.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <tuple>

#include "coll/coll_harness.h"
#include "scheduler/tune_string.h"
#include "topology/presets/presets.h"
#include "scheduler/timing_only_call.h"

namespace strata::test {
namespace {

constexpr size_t kBlock = 128 * 7168;  // one token block: S / 56 GB/s = 16.384 us exactly

// Creates nranks sim communicators on `topo` (a preset, a file, or "" for this host) with `algo`
// pinned, and runs body on one thread per rank.
void runSim(int nranks, const std::string& topo, const std::string& algo,
            const std::function<void(int rank, strataComm_t comm)>& body) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.transport = "sim";
  cfg.topoFile = topo.empty() ? nullptr : topo.c_str();
  cfg.algo = algo.empty() ? nullptr : algo.c_str();
  cfg.timeoutMs = 60000;
  runRanksWith(nranks, cfg, body);
}

strataStats_t statsOf(strataComm_t comm) {
  strataStats_t s{};
  EXPECT_EQ(strataCommGetStats(comm, &s), strataSuccess) << strataGetLastError(comm);
  return s;
}

double usOfPs(int64_t ps) { return static_cast<double>(ps) / 1e6; }

// ---------------------------------------------------------------------------------------------
// Data correctness: every collective, several types, in place and out of place, through the sim.

struct SimCase {
  std::string coll;
  std::string algo;
  std::string topo;
  int nranks;
};

void PrintTo(const SimCase& c, std::ostream* os) {
  *os << c.coll << ":@" << c.algo << " on " << (c.topo.empty() ? "host" : c.topo) << " x"
      << c.nranks;
}

using DataParam = std::tuple<SimCase, size_t>;

class SimDataTest : public ::testing::TestWithParam<DataParam> {
 protected:
  const SimCase& c() const { return std::get<0>(GetParam()); }
  size_t count() const { return std::get<1>(GetParam()); }
};

struct Combo {
  strataDataType_t type;
  strataRedOp_t op;
};
const Combo kCombos[] = {{strataFloat32, strataSum},
                         {strataBfloat16, strataSum},
                         {strataInt32, strataMax},
                         {strataFloat64, strataAvg}};

std::string what(const Combo& k, bool inPlace, int rank) {
  return std::string(dtypeName(k.type)) + "/" + redopName(k.op) +
         (inPlace ? "/in-place" : "/out-of-place") + " rank " + std::to_string(rank);
}

// Runs one collective on this rank and checks its output.
void checkCollective(const std::string& coll, int rank, int n, strataComm_t comm, size_t count,
                     const Combo& k, bool inPlace) {
  const strataDataType_t t = k.type;
  const size_t es = dtypeSize(t);
  const size_t un = static_cast<size_t>(n);
  const size_t me = static_cast<size_t>(rank);
  auto value = [&](int who, size_t i) { return inputValue(t, k.op, who, i); };
  std::vector<char> send, recv, expect;
  strataResult_t res = strataSuccess;
  size_t outElems = 0;
  if (coll == "allreduce" || coll == "reduce") {
    const int root = 1 % n;
    send.resize(count * es + 1);
    recv.assign(count * es + 1, 0);
    fillPeriodic(t, send.data(), count, 0, [&](size_t i) { return value(rank, i); });
    expect.resize(count * es + 1);
    fillPeriodic(t, expect.data(), count, 0, [&](size_t i) { return reducedValue(t, k.op, n, i); });
    void* out = inPlace ? send.data() : recv.data();
    res = coll == "allreduce" ? strataAllReduce(send.data(), out, count, t, k.op, comm, nullptr)
                              : strataReduce(send.data(), out, count, t, k.op, root, comm, nullptr);
    if (coll == "reduce" && rank != root) {
      ASSERT_EQ(res, strataSuccess) << what(k, inPlace, rank) << ": " << strataGetLastError(comm);
      return;
    }
    if (inPlace) recv = send;
    outElems = count;
  } else if (coll == "reducescatter") {
    send.resize(un * count * es + 1);
    fillPeriodic(t, send.data(), un * count, 0, [&](size_t i) { return value(rank, i); });
    expect.resize(count * es + 1);
    fillPeriodic(t, expect.data(), count, me * count,
                 [&](size_t i) { return reducedValue(t, k.op, n, i); });
    recv.assign(count * es + 1, 0);
    void* out = inPlace ? send.data() + me * count * es : recv.data();
    res = strataReduceScatter(send.data(), out, count, t, k.op, comm, nullptr);
    if (inPlace) std::memcpy(recv.data(), out, count * es);
    outElems = count;
  } else if (coll == "broadcast") {
    const int root = 1 % n;
    send.resize(count * es + 1);
    fillPeriodic(t, send.data(), count, 0, [&](size_t i) { return value(root, i); });
    expect = send;
    if (rank != root) std::fill(send.begin(), send.end(), 0);
    recv.assign(count * es + 1, 0);
    void* out = inPlace ? send.data() : recv.data();
    res = strataBroadcast(send.data(), out, count, t, root, comm, nullptr);
    if (inPlace) recv = send;
    outElems = count;
  } else if (coll == "allgather") {
    recv.assign(un * count * es + 1, 0);
    send.resize(count * es + 1);
    fillPeriodic(t, send.data(), count, me * 7, [&](size_t i) { return value(rank, i); });
    expect.resize(un * count * es + 1);
    for (size_t q = 0; q < un; ++q)
      fillPeriodic(t, expect.data() + q * count * es, count, q * 7,
                   [&](size_t i) { return value(static_cast<int>(q), i); });
    const void* in = send.data();
    if (inPlace) {
      std::memcpy(recv.data() + me * count * es, send.data(), count * es);
      in = recv.data() + me * count * es;
    }
    res = strataAllGather(in, recv.data(), count, t, comm, nullptr);
    outElems = un * count;
  } else if (coll == "alltoall") {
    send.resize(un * count * es + 1);
    expect.resize(un * count * es + 1);
    for (size_t q = 0; q < un; ++q) {
      fillPeriodic(t, send.data() + q * count * es, count, me * 31 + q,
                   [&](size_t i) { return value(rank, i); });
      fillPeriodic(t, expect.data() + q * count * es, count, q * 31 + me,
                   [&](size_t i) { return value(static_cast<int>(q), i); });
    }
    recv.assign(un * count * es + 1, 0);
    void* out = inPlace ? send.data() : recv.data();
    res = strataAllToAll(send.data(), out, count, t, comm, nullptr);
    if (inPlace) recv = send;
    outElems = un * count;
  } else if (coll == "allgatherv") {
    std::vector<size_t> counts(un), displs(un);
    size_t total = 0;
    for (size_t q = 0; q < un; ++q) {
      counts[q] = count + q % 3;
      displs[q] = total;
      total += counts[q];
    }
    send.resize(counts[me] * es + 1);
    fillPeriodic(t, send.data(), counts[me], me, [&](size_t i) { return value(rank, i); });
    expect.resize(total * es + 1);
    for (size_t q = 0; q < un; ++q)
      fillPeriodic(t, expect.data() + displs[q] * es, counts[q], q,
                   [&](size_t i) { return value(static_cast<int>(q), i); });
    recv.assign(total * es + 1, 0);
    res = strataAllGatherv(send.data(), counts[me], recv.data(), counts.data(), displs.data(), t,
                           comm, nullptr);
    outElems = total;
  } else if (coll == "alltoallv") {
    std::vector<size_t> sc(un), sd(un), rc(un), rd(un);
    size_t sTotal = 0, rTotal = 0;
    for (size_t q = 0; q < un; ++q) {
      sc[q] = count + (me + q) % 3;
      rc[q] = count + (q + me) % 3;
      sd[q] = sTotal;
      rd[q] = rTotal;
      sTotal += sc[q];
      rTotal += rc[q];
    }
    send.resize(sTotal * es + 1);
    expect.resize(rTotal * es + 1);
    for (size_t q = 0; q < un; ++q) {
      fillPeriodic(t, send.data() + sd[q] * es, sc[q], me * 5 + q,
                   [&](size_t i) { return value(rank, i); });
      fillPeriodic(t, expect.data() + rd[q] * es, rc[q], q * 5 + me,
                   [&](size_t i) { return value(static_cast<int>(q), i); });
    }
    recv.assign(rTotal * es + 1, 0);
    res = strataAllToAllv(send.data(), sc.data(), sd.data(), recv.data(), rc.data(), rd.data(), t,
                          comm, nullptr);
    outElems = rTotal;
  } else if (coll == "sendrecv") {
    send.resize(count * es + 1);
    fillPeriodic(t, send.data(), count, me, [&](size_t i) { return value(rank, i); });
    const int left = (rank + n - 1) % n;
    expect.resize(count * es + 1);
    fillPeriodic(t, expect.data(), count, static_cast<size_t>(left),
                 [&](size_t i) { return value(left, i); });
    recv.assign(count * es + 1, 0);
    ASSERT_EQ(strataGroupStart(), strataSuccess);
    strataSend(send.data(), count, t, (rank + 1) % n, comm, nullptr);
    strataRecv(recv.data(), count, t, left, comm, nullptr);
    res = strataGroupEnd();
    outElems = count;
  } else if (coll == "barrier") {
    res = strataBarrier(comm, nullptr);
  } else {
    FAIL() << "unknown collective " << coll;
  }
  ASSERT_EQ(res, strataSuccess) << coll << " " << what(k, inPlace, rank) << ": "
                                << strataGetLastError(comm);
  if (outElems == 0) return;
  ASSERT_EQ(firstMismatch(recv.data(), expect.data(), outElems, t), -1)
      << coll << " " << what(k, inPlace, rank);
}

bool reduces(const std::string& coll) {
  return coll == "allreduce" || coll == "reduce" || coll == "reducescatter";
}
bool hasInPlace(const std::string& coll) {
  return coll != "allgatherv" && coll != "alltoallv" && coll != "sendrecv" && coll != "barrier";
}

TEST_P(SimDataTest, MatchesReference) {
  const SimCase& sc = c();
  const std::string tune =
      sc.coll == "sendrecv" || sc.coll == "barrier" ? "" : sc.coll + ":@" + sc.algo;
  runSim(sc.nranks, sc.topo, tune, [&](int rank, strataComm_t comm) {
    for (const Combo& k : kCombos) {
      if (!reduces(sc.coll) && k.op != strataSum) continue;
      for (bool inPlace : {false, true}) {
        if (inPlace && !hasInPlace(sc.coll)) continue;
        checkCollective(sc.coll, rank, sc.nranks, comm, count(), k, inPlace);
      }
    }
  });
}

std::vector<SimCase> dataCases() {
  std::vector<SimCase> out;
  const std::pair<std::string, std::string> algos[] = {
      {"allreduce", "ring"},     {"allreduce", "oneshot"}, {"reducescatter", "ring"},
      {"allgather", "ring"},     {"allgather", "mesh"},    {"broadcast", "chain"},
      {"reduce", "chain"},       {"alltoall", "pairwise"}, {"allgatherv", "ring"},
      {"alltoallv", "pairwise"}, {"sendrecv", "p2p"},      {"barrier", "dissemination"}};
  // This host's topology at every rank count is in the registry-generated matrix (coll_test).
  for (const auto& [coll, algo] : algos) out.push_back({coll, algo, "hccs-8", 8});
  out.push_back({"allreduce", "ring", "hccs-2x8", 16});
  out.push_back({"alltoall", "pairwise", "hccs-2x8", 16});
  out.push_back({"allgather", "mesh", "cm384:12", 12});
  return out;
}

std::string dataName(const ::testing::TestParamInfo<DataParam>& info) {
  const SimCase& c = std::get<0>(info.param);
  std::string topo = c.topo.empty() ? "host" : c.topo;
  for (char& ch : topo)
    if (ch == '-' || ch == ':') ch = '_';
  return c.coll + "_" + c.algo + "_" + topo + "_r" + std::to_string(c.nranks) + "_c" +
         std::to_string(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Sim, SimDataTest,
                         ::testing::Combine(::testing::ValuesIn(dataCases()),
                                            ::testing::Values<size_t>(7, 70001)),
                         dataName);

// The mesh AllGather runs unchanged on shared memory.
TEST(SimAlgorithms, MeshAllGatherOnShm) {
  runRanks(4, "allgather:@mesh", [](int rank, strataComm_t comm) {
    for (size_t count : {size_t{1}, size_t{1000}, size_t{70001}})
      for (bool inPlace : {false, true})
        checkCollective("allgather", rank, 4, comm, count, {strataFloat32, strataSum}, inPlace);
  });
}

// ---------------------------------------------------------------------------------------------
// Closed-form oracles, read back through strataCommGetStats.

TEST(SimOracle, RingAllGatherTakesSevenAlphaPlusSOverB) {
  std::vector<uint8_t> in(kBlock, 1);
  runSim(8, "hccs-8", "allgather:@ring", [&](int rank, strataComm_t comm) {
    std::vector<uint8_t> out(8 * kBlock);
    ASSERT_EQ(strataAllGather(in.data(), out.data(), kBlock, strataUint8, comm, nullptr),
              strataSuccess);
    const strataStats_t s = statsOf(comm);
    // α = 1 us, S / B_link = 917504 B / 56 GB/s = 16.384 us.
    EXPECT_EQ(s.last.simTimeUs, usOfPs(7 * (1'000'000 + 16'384'000))) << "rank " << rank;
    EXPECT_EQ(s.simClockUs, s.last.simTimeUs);
    EXPECT_EQ(s.numLevels, 1);
    EXPECT_EQ(s.last.bytesSent[0], 7 * kBlock);
    EXPECT_EQ(s.last.steps, 8u);       // local copy + 7 ring steps
    EXPECT_EQ(s.last.syncs, 7u * 7u);  // 7 blocks of 7 chunks of 128 KiB
    EXPECT_EQ(s.last.ops, 1u);
  });
}

TEST(SimOracle, MeshAllGatherTakesAlphaPlusSOverB) {
  const size_t s = 49 * 8 * 2048;  // S / 392 GB/s is whole picoseconds: 7 blocks fill the port
  std::vector<uint8_t> in(s, 2);
  runSim(8, "hccs-8", "allgather:@mesh", [&](int rank, strataComm_t comm) {
    std::vector<uint8_t> out(8 * s);
    ASSERT_EQ(strataAllGather(in.data(), out.data(), s, strataUint8, comm, nullptr), strataSuccess);
    const strataStats_t st = statsOf(comm);
    EXPECT_EQ(st.last.simTimeUs, usOfPs(1'000'000 + 14'336'000)) << "rank " << rank;
    EXPECT_EQ(st.last.steps, 1u);
    EXPECT_EQ(st.last.bytesSent[0], 7 * s);
  });
}

// ---------------------------------------------------------------------------------------------
// Determinism and agreement with timing-only evaluation.

struct OpSpec {
  std::string coll, algo;
  size_t count;
  std::string tune() const { return coll == "barrier" ? "" : coll + ":@" + algo; }
};

// One op per collective, so one tune string pins them all.
const OpSpec kSequence[] = {{"allreduce", "ring", 70001},   {"alltoall", "pairwise", 5000},
                            {"allgather", "mesh", 33333},   {"broadcast", "chain", 300000},
                            {"reduce", "chain", 300000},    {"reducescatter", "ring", 9000},
                            {"barrier", "dissemination", 0}};
// Every algorithm, for the agreement with timing-only evaluation.
const OpSpec kEveryAlgorithm[] = {
    {"allreduce", "ring", 70001}, {"allreduce", "oneshot", 1000},  {"alltoall", "pairwise", 5000},
    {"allgather", "ring", 40000}, {"allgather", "mesh", 33333},    {"broadcast", "chain", 300000},
    {"reduce", "chain", 300000},  {"reducescatter", "ring", 9000}, {"barrier", "dissemination", 0}};

std::string sequenceTune() {
  std::string tune;
  for (const OpSpec& o : kSequence)
    if (!o.tune().empty()) tune += (tune.empty() ? "" : "#") + o.tune();
  return tune;
}

// Runs one op of the sequence (float32 sum, out of place) and returns once it completed.
void runOp(const OpSpec& o, int rank, int n, strataComm_t comm) {
  checkCollective(o.coll, rank, n, comm, o.count, {strataFloat32, strataSum}, false);
}

// Per rank: every op's simulated time, then the final clock.
std::vector<std::vector<double>> runSequence(const std::string& topo, int n) {
  std::vector<std::vector<double>> times(static_cast<size_t>(n));
  runSim(n, topo, sequenceTune(), [&](int rank, strataComm_t comm) {
    for (const OpSpec& o : kSequence) {
      runOp(o, rank, n, comm);
      times[static_cast<size_t>(rank)].push_back(statsOf(comm).last.simTimeUs);
    }
    times[static_cast<size_t>(rank)].push_back(statsOf(comm).simClockUs);
  });
  return times;
}

TEST(SimDeterminism, SameRunTwiceGivesBitIdenticalTimes) {
  const auto a = runSequence("hccs-2x8", 16);
  const auto b = runSequence("hccs-2x8", 16);
  ASSERT_EQ(a.size(), b.size());
  for (size_t r = 0; r < a.size(); ++r) {
    ASSERT_EQ(a[r].size(), std::size(kSequence) + 1);
    for (size_t i = 0; i < a[r].size(); ++i) {
      EXPECT_EQ(std::memcmp(&a[r][i], &b[r][i], sizeof(double)), 0)
          << "rank " << r << " op " << i << ": " << a[r][i] << " vs " << b[r][i];
      EXPECT_GT(a[r][i], 0.0) << "rank " << r << " op " << i;
    }
  }
}

CollArgs argsFor(const OpSpec& o) {
  CollArgs a;
  const std::pair<const char*, CollType> byKey[] = {
      {"allreduce", CollType::kAllReduce}, {"alltoall", CollType::kAllToAll},
      {"allgather", CollType::kAllGather}, {"broadcast", CollType::kBroadcast},
      {"reduce", CollType::kReduce},       {"reducescatter", CollType::kReduceScatter},
      {"barrier", CollType::kBarrier}};
  for (const auto& [key, type] : byKey)
    if (o.coll == key) a.coll = type;
  a.count = o.count;
  a.dtype = a.coll == CollType::kBarrier ? strataUint8 : strataFloat32;
  a.root = 1;
  return a;
}

TEST(SimDeterminism, ThreadsAgreeWithTimingOnly) {
  const Topology topo = topologyPreset("hccs-2x8").value();
  for (const OpSpec& o : kEveryAlgorithm) {
    const TuneTable tune = TuneTable::parse(o.tune(), "test").value();
    std::vector<double> threaded(16);
    runSim(16, "hccs-2x8", o.tune(), [&](int rank, strataComm_t comm) {
      runOp(o, rank, 16, comm);
      threaded[static_cast<size_t>(rank)] = statsOf(comm).last.simTimeUs;
    });
    auto eval = evaluateTimingOnly(topo, argsFor(o), tune);
    ASSERT_TRUE(eval.isOk()) << eval.status().message();
    for (int r = 0; r < 16; ++r)
      EXPECT_EQ(threaded[static_cast<size_t>(r)],
                usOfPs(eval.value().rankEndPs[static_cast<size_t>(r)]))
          << o.coll << ":@" << o.algo << " rank " << r;
  }
}

// ---------------------------------------------------------------------------------------------
// Contention through the threaded sim: two flows into one capped port take twice as long.

class TopologyFile {
 public:
  explicit TopologyFile(const std::string& json)
      : path_(::testing::TempDir() + "strata-sim-topo-" + std::to_string(getpid()) + ".json") {
    std::ofstream(path_) << json;
  }
  ~TopologyFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(SimContention, TwoFlowsIntoOneCappedPort) {
  const TopologyFile file(R"({"version": 1, "name": "capped-star", "ranks": 3,
      "ports": [{"name": "p", "gbps": 56}],
      "levels": [{"name": "mesh", "port": "p", "link": {"alphaUs": 0, "gbps": 56}}]})");
  const size_t bytes = 7 * 1000 * 1000;  // 125 us at 56 GB/s
  std::vector<double> rank0(2);
  for (int flows : {1, 2}) {
    runSim(3, file.path(), "", [&](int rank, strataComm_t comm) {
      std::vector<char> buf(2 * bytes, 1);
      strataResult_t res = strataSuccess;
      if (rank == 0) {
        ASSERT_EQ(strataGroupStart(), strataSuccess);
        for (int peer = 1; peer <= flows; ++peer)
          strataRecv(buf.data() + (peer - 1) * bytes, bytes, strataUint8, peer, comm, nullptr);
        res = strataGroupEnd();
        rank0[static_cast<size_t>(flows - 1)] = statsOf(comm).last.simTimeUs;
      } else if (rank <= flows) {
        res = strataSend(buf.data(), bytes, strataUint8, 0, comm, nullptr);
      }
      ASSERT_EQ(res, strataSuccess) << strataGetLastError(comm);
    });
  }
  EXPECT_EQ(rank0[0], 125.0);
  EXPECT_EQ(rank0[1], 2 * rank0[0]);
}

// ---------------------------------------------------------------------------------------------
// Statistics across levels, splits, and the C entry points of timing-only evaluation.

TEST(SimStats, BytesPerLevelAndTotals) {
  const size_t count = 4096;  // float32 elements per rank
  runSim(16, "hccs-2x8", "allgather:@ring", [&](int rank, strataComm_t comm) {
    std::vector<float> in(count, 1.0f), out(16 * count);
    for (int i = 0; i < 2; ++i)
      ASSERT_EQ(strataAllGather(in.data(), out.data(), count, strataFloat32, comm, nullptr),
                strataSuccess);
    const strataStats_t s = statsOf(comm);
    const uint64_t perOp = 15 * count * sizeof(float);
    const bool crosses = rank == 7 || rank == 15;  // their right neighbour is on the other server
    EXPECT_EQ(s.numLevels, 2);
    EXPECT_EQ(s.last.bytesSent[crosses ? 1 : 0], perOp);
    EXPECT_EQ(s.last.bytesSent[crosses ? 0 : 1], 0u);
    EXPECT_EQ(s.total.bytesSent[crosses ? 1 : 0], 2 * perOp);
    EXPECT_EQ(s.total.ops, 2u);
    EXPECT_EQ(s.total.steps, 2 * s.last.steps);
    EXPECT_EQ(s.total.syncs, 2u * 15u);
    EXPECT_GT(s.last.simTimeUs, 0.0);
    EXPECT_DOUBLE_EQ(s.total.simTimeUs, s.simClockUs);
  });
}

TEST(SimStats, ShmCountsBytesButNoSimulatedTime) {
  runRanks(2, "", [](int, strataComm_t comm) {
    std::vector<float> in(100, 1.0f), out(100);
    ASSERT_EQ(strataAllReduce(in.data(), out.data(), 100, strataFloat32, strataSum, comm, nullptr),
              strataSuccess);
    const strataStats_t s = statsOf(comm);
    EXPECT_EQ(s.numLevels, 1);
    EXPECT_GT(s.last.bytesSent[0], 0u);
    EXPECT_GT(s.last.syncs, 0u);
    EXPECT_EQ(s.last.simTimeUs, 0.0);
    EXPECT_EQ(s.simClockUs, 0.0);
  });
  strataStats_t s;
  EXPECT_EQ(strataCommGetStats(nullptr, &s), strataInvalidArgument);
}

TEST(SimSplit, ChildrenKeepTheirLevels) {
  runSim(16, "hccs-2x8", "", [](int rank, strataComm_t comm) {
    strataComm_t child = nullptr;
    // Even ranks of both servers: a child that still spans the RoCE level.
    ASSERT_EQ(strataCommSplit(comm, rank % 2, rank, &child, nullptr), strataSuccess)
        << strataGetLastError(comm);
    int n = 0, me = 0;
    strataCommCount(child, &n);
    strataCommUserRank(child, &me);
    ASSERT_EQ(n, 8);
    checkCollective("allreduce", me, n, child, 1000, {strataFloat32, strataSum}, false);
    const strataStats_t s = statsOf(child);
    EXPECT_EQ(s.numLevels, 2);
    EXPECT_GT(s.last.simTimeUs, 0.0);
    EXPECT_EQ(strataCommDestroy(child), strataSuccess);
  });
}

TEST(SimTimingOnlyApi, MatchesTheOracleAndReportsErrors) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.topoFile = "hccs-8";
  cfg.algo = "allgather:@ring";
  strataSimResult_t r;
  ASSERT_EQ(strataSimTimingOnly(&cfg, "allgather", kBlock, strataUint8, strataSum, 0, 0, &r),
            strataSuccess)
      << strataGetLastError(nullptr);
  EXPECT_EQ(r.nranks, 8);
  EXPECT_EQ(r.simTimeUs, usOfPs(7 * (1'000'000 + 16'384'000)));
  EXPECT_EQ(r.minRankTimeUs, r.simTimeUs);
  EXPECT_EQ(r.bytesSent[0], 8 * 7 * kBlock);
  EXPECT_STREQ(r.algo, "ring");
  EXPECT_EQ(strataSimTimingOnly(&cfg, "allgatherv", 1, strataUint8, strataSum, 0, 0, &r),
            strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("allgatherv"), std::string::npos);
  EXPECT_EQ(strataSimTimingOnly(&cfg, "allreduce", 1, strataUint8, strataSum, 9, 0, &r),
            strataInvalidArgument);
  cfg.topoFile = "hccs-99";
  EXPECT_EQ(strataSimTimingOnly(&cfg, "allreduce", 1, strataUint8, strataSum, 0, 0, &r),
            strataInvalidArgument);
  int n = 0;
  ASSERT_EQ(strataTopoGetRankCount("cm384", &n), strataSuccess);
  EXPECT_EQ(n, 384);
  ASSERT_EQ(strataTopoGetRankCount("hccs-4x8", &n), strataSuccess);
  EXPECT_EQ(n, 32);
  EXPECT_EQ(strataTopoGetRankCount("/no/such/topology.json", &n), strataInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Configuration errors.

TEST(SimConfig, RankCountMustMatchTheTopology) {
  std::vector<strataComm_t> comms(4);
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.transport = "sim";
  cfg.topoFile = "hccs-8";
  EXPECT_EQ(strataCommInitAll(comms.data(), 4, &cfg), strataInvalidArgument);
  const std::string msg = strataGetLastError(nullptr);
  EXPECT_NE(msg.find("'hccs-8' has 8 ranks"), std::string::npos) << msg;
}

TEST(SimConfig, BadTopologyFileNamesPathAndProblem) {
  const TopologyFile file(
      R"({"version": 1, "ranks": 2, "levels": [{"name": "x", "link": {"alphaUs": 1}}]})");
  std::vector<strataComm_t> comms(2);
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.transport = "sim";
  cfg.topoFile = file.path().c_str();
  EXPECT_EQ(strataCommInitAll(comms.data(), 2, &cfg), strataInvalidArgument);
  const std::string msg = strataGetLastError(nullptr);
  EXPECT_NE(msg.find(file.path()), std::string::npos) << msg;
  EXPECT_NE(msg.find("/levels/0/link/gbps: missing"), std::string::npos) << msg;
}

}  // namespace
}  // namespace strata::test
