// Every registered algorithm, pinned, with ranks as threads on shared memory and on the
// simulated mesh (this host's topology), over rank counts, counts, dtypes, ops, in-place and
// out-of-place. The cases come from the algorithm registry: registering an algorithm is all it
// takes to test it. Results are compared bit for bit.
#include <unistd.h>

#include <fstream>
#include <tuple>

#include "algorithms/algorithm.h"
#include "coll/coll_harness.h"

namespace strata::test {
namespace {

constexpr size_t kLarge = (1u << 20) + 3;

struct Case {
  std::string coll;  // tune-string collective name
  std::string algo;
  bool sim = false;  // on the simulated mesh instead of shared memory
  std::string topo;  // topology preset or file (empty: this host's)
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.coll << ":@" << c.algo << (c.sim ? " on sim" : " on shm")
      << (c.topo.empty() ? "" : " topology " + c.topo);
}

using Param = std::tuple<Case, int, size_t>;

// Which (dtype, op) pairs a case covers: everything up to 1000 elements. At the large count,
// to bound the suite's time, one type per width and kind (int8, int64, float32, bfloat16, fp8
// e4m3): every type's arithmetic is already covered at the small counts, and the large count
// exercises chunking, pipelining and slot reuse, which depend on bytes, not on the type. On
// shared memory with up to 4 ranks every type still runs at the large count; the sim and the
// larger rank counts (whose gathered buffers are 7-8x larger) take the sample. Reductions at the
// large count run every op with float32 and bfloat16, and sum with the other types.
std::vector<std::pair<strataDataType_t, strataRedOp_t>> combos(size_t count, bool reduction,
                                                               bool sample) {
  std::vector<std::pair<strataDataType_t, strataRedOp_t>> out;
  for (strataDataType_t t : allTypes()) {
    const bool sampled = t == strataInt8 || t == strataInt64 || t == strataFloat32 ||
                         t == strataBfloat16 || t == strataFloat8e4m3;
    if (sample && count >= kLarge && !sampled) continue;
    if (!reduction) {
      out.push_back({t, strataSum});
      continue;
    }
    for (strataRedOp_t op : allOps()) {
      const bool keep = count < kLarge || op == strataSum || t == strataFloat32 ||
                        t == strataBfloat16;
      if (keep) out.push_back({t, op});
    }
  }
  return out;
}

class CollTest : public ::testing::TestWithParam<Param> {
 protected:
  const Case& c() const { return std::get<0>(GetParam()); }
  int nranks() const { return std::get<1>(GetParam()); }
  size_t count() const { return std::get<2>(GetParam()); }
  std::string tune() const { return c().coll + ":@" + c().algo; }
  bool reduction() const {
    return c().coll == "allreduce" || c().coll == "reduce" || c().coll == "reducescatter";
  }

  // Runs `check` for every combo, in place and out of place, on every rank.
  void sweep(const std::function<void(int, strataComm_t, strataDataType_t, strataRedOp_t, bool)>& check) {
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    const std::string algo = tune();
    cfg.algo = algo.c_str();
    cfg.timeoutMs = 60000;
    cfg.transport = c().sim ? "sim" : nullptr;
    cfg.topoFile = c().topo.empty() ? nullptr : c().topo.c_str();
    const bool data = c().coll != "barrier";
    runRanksWith(nranks(), cfg, [&](int rank, strataComm_t comm) {
      for (auto [t, op] : combos(count(), reduction(), c().sim || nranks() > 4)) {
        for (bool inPlace : {false, true}) {
          check(rank, comm, t, op, inPlace);
          if (!data) return;  // one barrier per rank is the whole check
        }
      }
    });
  }
};

std::string describe(strataDataType_t t, strataRedOp_t op, bool inPlace, int rank) {
  return std::string(dtypeName(t)) + "/" + redopName(op) + (inPlace ? "/in-place" : "/out-of-place") +
         " rank " + std::to_string(rank);
}

TEST_P(CollTest, MatchesReference) {
  const int n = nranks();
  const size_t cnt = count();
  const std::string& coll = c().coll;
  sweep([&](int rank, strataComm_t comm, strataDataType_t t, strataRedOp_t op, bool inPlace) {
    const size_t es = dtypeSize(t);
    const size_t un = static_cast<size_t>(n);
    const size_t ur = static_cast<size_t>(rank);
    std::vector<char> in, out, expect;
    strataResult_t res = strataSuccess;
    size_t checkOffset = 0, checkCount = 0;
    auto fill = [&](std::vector<char>& buf, size_t elems, int who, size_t base) {
      fillPeriodic(t, buf.data(), elems, base, [&](size_t j) { return inputValue(t, op, who, j); });
    };
    auto reduced = [&](std::vector<char>& buf, size_t elems, size_t base) {
      fillPeriodic(t, buf.data(), elems, base, [&](size_t j) { return reducedValue(t, op, n, j); });
    };
    if (coll == "allreduce" || coll == "reduce") {
      const int root = static_cast<int>(cnt % un);
      in.resize(cnt * es + 1);
      fill(in, cnt, rank, 0);
      out.assign(cnt * es + 1, 0);
      expect.resize(cnt * es + 1);
      reduced(expect, cnt, 0);
      void* dst = inPlace ? in.data() : out.data();
      if (coll == "allreduce") res = strataAllReduce(in.data(), dst, cnt, t, op, comm, nullptr);
      else res = strataReduce(in.data(), dst, cnt, t, op, root, comm, nullptr);
      if (inPlace) out = in;
      checkCount = (coll == "allreduce" || rank == root) ? cnt : 0;
    } else if (coll == "reducescatter") {
      in.resize(un * cnt * es + 1);
      fill(in, un * cnt, rank, 0);
      expect.resize(cnt * es + 1);
      reduced(expect, cnt, ur * cnt);
      out.assign(cnt * es + 1, 0);
      void* dst = inPlace ? in.data() + ur * cnt * es : out.data();
      res = strataReduceScatter(in.data(), dst, cnt, t, op, comm, nullptr);
      if (inPlace) out.assign(in.begin() + static_cast<long>(ur * cnt * es), in.end());
      checkCount = cnt;
    } else if (coll == "allgather") {
      out.assign(un * cnt * es + 1, 0);
      expect.resize(un * cnt * es + 1);
      for (int q = 0; q < n; ++q) {
        std::vector<char> block(cnt * es + 1);
        fill(block, cnt, q, 0);
        std::memcpy(expect.data() + static_cast<size_t>(q) * cnt * es, block.data(), cnt * es);
      }
      in.resize(cnt * es + 1);
      fill(in, cnt, rank, 0);
      if (inPlace) {
        std::memcpy(out.data() + ur * cnt * es, in.data(), cnt * es);
        res = strataAllGather(out.data() + ur * cnt * es, out.data(), cnt, t, comm, nullptr);
      } else {
        res = strataAllGather(in.data(), out.data(), cnt, t, comm, nullptr);
      }
      checkCount = un * cnt;
    } else if (coll == "broadcast") {
      const int root = static_cast<int>((cnt + 1) % un);
      in.resize(cnt * es + 1);
      fill(in, cnt, root, 0);
      expect = in;
      out.assign(cnt * es + 1, 0);
      if (inPlace) {
        if (rank == root) out = in;
        res = strataBroadcast(out.data(), out.data(), cnt, t, root, comm, nullptr);
      } else {
        res = strataBroadcast(rank == root ? in.data() : nullptr, out.data(), cnt, t, root, comm, nullptr);
      }
      checkCount = cnt;
    } else if (coll == "gather" || coll == "scatter") {
      // Root n-1, and at the small counts root 0 as well, in turn over the same buffers.
      const size_t total = un * cnt * es;
      std::vector<char> all(total + 1);
      for (int q = 0; q < n; ++q) {
        std::vector<char> block(cnt * es + 1);
        fill(block, cnt, q, 0);
        std::memcpy(all.data() + static_cast<size_t>(q) * cnt * es, block.data(), cnt * es);
      }
      std::vector<int> roots = {n - 1};
      if (cnt < kLarge && n > 1) roots.push_back(0);
      for (int root : roots) {
        const bool isRoot = rank == root;
        const size_t mine = (coll == "gather" ? ur : static_cast<size_t>(root)) * cnt * es;
        if (coll == "gather") {
          in.assign(all.begin() + static_cast<long>(ur * cnt * es),
                    all.begin() + static_cast<long>((ur + 1) * cnt * es));
          in.push_back(0);
          out.assign(total + 1, 0);
          if (inPlace && isRoot) {
            std::memcpy(out.data() + mine, in.data(), cnt * es);
            res = strataGather(out.data() + mine, out.data(), cnt, t, root, comm, nullptr);
          } else {
            // recvbuff is the root's only: NULL elsewhere, as NCCL allows.
            res = strataGather(in.data(), isRoot ? out.data() : nullptr, cnt, t, root, comm,
                               nullptr);
          }
          expect = all;
          checkCount = isRoot ? un * cnt : 0;
        } else {
          expect.assign(all.begin() + static_cast<long>(ur * cnt * es),
                        all.begin() + static_cast<long>((ur + 1) * cnt * es));
          expect.push_back(0);
          if (inPlace && isRoot) {
            in = all;
            res = strataScatter(in.data(), in.data() + mine, cnt, t, root, comm, nullptr);
            out.assign(in.begin() + static_cast<long>(mine), in.end());
          } else {
            out.assign(cnt * es + 1, 0);
            // sendbuff is the root's only: NULL elsewhere, as NCCL allows.
            res = strataScatter(isRoot ? all.data() : nullptr, out.data(), cnt, t, root, comm,
                                nullptr);
          }
          checkCount = cnt;
        }
        if (roots.size() == 1 || root == roots.back()) break;
        ASSERT_EQ(res, strataSuccess) << describe(t, op, inPlace, rank) << " root " << root
                                      << ": " << strataGetLastError(comm);
        ASSERT_EQ(firstMismatch(out.data(), expect.data(), checkCount, t), -1)
            << describe(t, op, inPlace, rank) << " root " << root << " first wrong element";
      }
    } else if (coll == "alltoall") {
      in.resize(un * cnt * es + 1);
      fill(in, un * cnt, rank, 0);
      expect.resize(un * cnt * es + 1);
      for (int q = 0; q < n; ++q) {
        std::vector<char> block(cnt * es + 1);
        fill(block, cnt, q, ur * cnt);
        std::memcpy(expect.data() + static_cast<size_t>(q) * cnt * es, block.data(), cnt * es);
      }
      out.assign(un * cnt * es + 1, 0);
      if (inPlace) {
        res = strataAllToAll(in.data(), in.data(), cnt, t, comm, nullptr);
        out = in;
      } else {
        res = strataAllToAll(in.data(), out.data(), cnt, t, comm, nullptr);
      }
      checkCount = un * cnt;
    } else if (coll == "barrier") {
      res = strataBarrier(comm, nullptr);
    } else {
      FAIL() << "no reference check for collective " << coll;
    }
    ASSERT_EQ(res, strataSuccess) << describe(t, op, inPlace, rank) << ": " << strataGetLastError(comm);
    long bad = firstMismatch(out.data() + checkOffset, expect.data(), checkCount, t);
    ASSERT_EQ(bad, -1) << describe(t, op, inPlace, rank) << " first wrong element";
  });
}

// Variable counts: rank q sends vcount(q, r) elements to rank r; blocks are placed with a gap.
size_t vcount(size_t base, int from, int to) { return base + static_cast<size_t>((from * 3 + to) % 4); }

class VCollTest : public CollTest {};

TEST_P(VCollTest, VariableCounts) {
  const int n = nranks();
  const size_t base = count();
  const std::string& coll = c().coll;
  sweep([&](int rank, strataComm_t comm, strataDataType_t t, strataRedOp_t op, bool inPlace) {
    const size_t es = dtypeSize(t);
    const size_t un = static_cast<size_t>(n);
    std::vector<size_t> sc(un), sd(un), rc(un), rd(un);
    size_t sTotal = 0, rTotal = 0;
    for (int q = 0; q < n; ++q) {
      const size_t uq = static_cast<size_t>(q);
      if (coll == "allgatherv") {
        rc[uq] = vcount(base, q, 0);
      } else {
        sc[uq] = vcount(base, rank, q);
        rc[uq] = vcount(base, q, rank);
      }
      sd[uq] = sTotal;
      sTotal += sc[uq] + 1;
      rd[uq] = rTotal;
      rTotal += rc[uq] + 1;
    }
    std::vector<char> send(sTotal * es + 1), recv(rTotal * es + 1, 0), expect(rTotal * es + 1, 0);
    strataResult_t res;
    if (coll == "allgatherv") {
      const size_t mine = rc[static_cast<size_t>(rank)];
      for (int q = 0; q < n; ++q)
        fillPeriodic(t, expect.data() + rd[static_cast<size_t>(q)] * es, rc[static_cast<size_t>(q)], 0,
                     [&](size_t j) { return inputValue(t, op, q, j); });
      std::vector<char> own(mine * es + 1);
      fillPeriodic(t, own.data(), mine, 0, [&](size_t j) { return inputValue(t, op, rank, j); });
      const void* src = own.data();
      if (inPlace) {
        std::memcpy(recv.data() + rd[static_cast<size_t>(rank)] * es, own.data(), mine * es);
        src = recv.data() + rd[static_cast<size_t>(rank)] * es;
      }
      res = strataAllGatherv(src, mine, recv.data(), rc.data(), rd.data(), t, comm, nullptr);
    } else {
      for (int q = 0; q < n; ++q) {
        const size_t uq = static_cast<size_t>(q);
        fillPeriodic(t, send.data() + sd[uq] * es, sc[uq], uq * 1000,
                     [&](size_t j) { return inputValue(t, op, rank, j); });
        fillPeriodic(t, expect.data() + rd[uq] * es, rc[uq], static_cast<size_t>(rank) * 1000,
                     [&](size_t j) { return inputValue(t, op, q, j); });
      }
      if (inPlace) {
        // One buffer: outgoing blocks at sdispls, incoming blocks land at rdispls.
        std::vector<char> buf(std::max(sTotal, rTotal) * es + 1, 0);
        std::memcpy(buf.data(), send.data(), sTotal * es);
        res = strataAllToAllv(buf.data(), sc.data(), sd.data(), buf.data(), rc.data(), rd.data(), t,
                              comm, nullptr);
        for (size_t q = 0; q < un; ++q)  // the gaps still hold outgoing data; compare blocks
          std::memcpy(recv.data() + rd[q] * es, buf.data() + rd[q] * es, rc[q] * es);
      } else {
        res = strataAllToAllv(send.data(), sc.data(), sd.data(), recv.data(), rc.data(), rd.data(),
                              t, comm, nullptr);
      }
    }
    ASSERT_EQ(res, strataSuccess) << describe(t, op, inPlace, rank) << ": " << strataGetLastError(comm);
    ASSERT_EQ(firstMismatch(recv.data(), expect.data(), rTotal, t), -1) << describe(t, op, inPlace, rank);
  });
}

// A two-level topology file of `groups` level-0 groups (each listed rank by rank) for ranks as
// threads on shared memory; written once per process.
std::string twoLevelFile(const std::string& name, const std::vector<std::vector<int>>& groups) {
  int n = 0;
  std::string g;
  for (const auto& grp : groups) {
    g += g.empty() ? "[" : ", [";
    for (size_t j = 0; j < grp.size(); ++j) g += (j ? ", " : "") + std::to_string(grp[j]);
    g += "]";
    n += static_cast<int>(grp.size());
  }
  const std::string path = ::testing::TempDir() + "strata-" + name + "-" +
                           std::to_string(getpid()) + ".json";
  std::ofstream(path) << R"({"version": 1, "name": ")" << name << R"(", "ranks": )" << n
                      << R"(, "levels": [{"name": "host", "link": {"alphaUs": 2, "gbps": 6},
      "groups": [)" << g << R"(]}, {"name": "net", "link": {"alphaUs": 20, "gbps": 1.25}}]})";
  return path;
}

// Algorithms that run only on topologies of two levels (hierarchical ones).
bool twoLevelOnly(const Algorithm& a) {
  CommShape flat, two;
  flat.nranks = two.nranks = 4;
  two.level0Groups = {0, 0, 1, 1};
  CollArgs args;
  args.coll = a.coll();
  return !a.supports(args, flat) && a.supports(args, two);
}

bool variableCounts(CollType c) {
  return c == CollType::kAllGatherv || c == CollType::kAllToAllv;
}

// The two-level algorithms on nranks ranks: shared memory with level-0 groups of 2x2 (ranks
// interleaved across the groups), 2x3 and 3x2, and the sim's hccs-2x8; variable-count
// collectives or the others.
std::vector<Case> twoLevelCases(int nranks, bool variable = false) {
  std::vector<std::string> topos;
  bool sim = false;
  if (nranks == 4) topos = {twoLevelFile("2x2", {{0, 2}, {1, 3}})};
  if (nranks == 6)
    topos = {twoLevelFile("2x3", {{0, 1, 2}, {3, 4, 5}}), twoLevelFile("3x2", {{0, 1}, {2, 3}, {4, 5}})};
  if (nranks == 16) {
    topos = {"hccs-2x8"};
    sim = true;
  }
  std::vector<Case> out;
  for (const Algorithm* a : algorithmRegistry())
    if (twoLevelOnly(*a) && variableCounts(a->coll()) == variable)
      for (const std::string& t : topos) out.push_back({collKey(a->coll()), a->name(), sim, t});
  return out;
}

// Every registered algorithm on shared memory, and on the sim where it supports the sim's shape
// (no forwarding ops); variable-count collectives or the others.
std::vector<Case> registryCases(bool variable) {
  std::vector<Case> out;
  CommShape simShape;
  simShape.forwarding = false;
  for (const Algorithm* a : algorithmRegistry()) {
    if (variableCounts(a->coll()) != variable) continue;
    // Approximate by design: tests/coll/quantized_allgather_test.cc checks its error bound.
    if (a->coll() == CollType::kAllGatherQuantized) continue;
    // Calls an epilogue: tests/coll/fused_allreduce_test.cc checks it against AllReduce + epilogue.
    if (a->coll() == CollType::kAllReduceFused) continue;
    // Direct algorithms need buffers in windows, and flag plans carry only small calls:
    // tests/coll/window_coll_test.cc.
    if (a->direct() || a->flagPath()) continue;
    // Two-level algorithms: twoLevelCases below.
    if (twoLevelOnly(*a)) continue;
    out.push_back({collKey(a->coll()), a->name(), false, ""});
    CollArgs args;
    args.coll = a->coll();
    if (a->supports(args, simShape)) out.push_back({collKey(a->coll()), a->name(), true, ""});
  }
  return out;
}

std::string paramName(const ::testing::TestParamInfo<Param>& info) {
  const Case& c = std::get<0>(info.param);
  std::string topo;
  for (char ch : c.topo.substr(c.topo.rfind('/') + 1, 8))
    if (std::isalnum(static_cast<unsigned char>(ch))) topo += ch;
  return c.coll + "_" + c.algo + (c.sim ? "_sim" : "_shm") + (topo.empty() ? "" : "_" + topo) +
         "_r" +
         std::to_string(std::get<1>(info.param)) + "_c" + std::to_string(std::get<2>(info.param));
}

// Every case at 1, 2, 3, 4, 7 and 8 ranks and counts 0, 1, 7, 1000 and kLarge, except kLarge at
// 8 ranks: the largest calls at 7 ranks already cover many chunks on a rank count that is not a
// power of two, and the 8-rank ones were the slowest sixth of the suite.
std::vector<Param> matrix(const std::vector<Case>& cases) {
  std::vector<Param> out;
  for (const Case& c : cases)
    for (int n : {1, 2, 3, 4, 7, 8})
      for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}, kLarge})
        if (!(n == 8 && count == kLarge)) out.emplace_back(c, n, count);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Variable, VCollTest, ::testing::ValuesIn(matrix(registryCases(true))),
                         paramName);

INSTANTIATE_TEST_SUITE_P(Registry, CollTest, ::testing::ValuesIn(matrix(registryCases(false))),
                         paramName);

INSTANTIATE_TEST_SUITE_P(TwoLevel4, CollTest,
                         ::testing::Combine(::testing::ValuesIn(twoLevelCases(4)),
                                            ::testing::Values(4),
                                            ::testing::Values<size_t>(0, 1, 7, 1000, 65539)),
                         paramName);
INSTANTIATE_TEST_SUITE_P(TwoLevel6, CollTest,
                         ::testing::Combine(::testing::ValuesIn(twoLevelCases(6)),
                                            ::testing::Values(6),
                                            ::testing::Values<size_t>(0, 7, 1000)),
                         paramName);
INSTANTIATE_TEST_SUITE_P(TwoLevelSim, CollTest,
                         ::testing::Combine(::testing::ValuesIn(twoLevelCases(16)),
                                            ::testing::Values(16),
                                            ::testing::Values<size_t>(7, 1000)),
                         paramName);
// The same topologies for the variable-count ones (AllToAllv: counts differ per pair).
INSTANTIATE_TEST_SUITE_P(TwoLevel4, VCollTest,
                         ::testing::Combine(::testing::ValuesIn(twoLevelCases(4, true)),
                                            ::testing::Values(4),
                                            ::testing::Values<size_t>(0, 1, 1000, 65539)),
                         paramName);
INSTANTIATE_TEST_SUITE_P(TwoLevel6, VCollTest,
                         ::testing::Combine(::testing::ValuesIn(twoLevelCases(6, true)),
                                            ::testing::Values(6),
                                            ::testing::Values<size_t>(0, 7, 1000)),
                         paramName);
INSTANTIATE_TEST_SUITE_P(TwoLevelSim, VCollTest,
                         ::testing::Combine(::testing::ValuesIn(twoLevelCases(16, true)),
                                            ::testing::Values(16),
                                            ::testing::Values<size_t>(7, 1000)),
                         paramName);

}  // namespace
}  // namespace strata::test
