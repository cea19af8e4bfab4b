// Windows with ranks as threads: the direct algorithms through a sampled matrix with every
// buffer in a registered window, the flag path of small calls (plain buffers and windows,
// mismatched calls), the mixed case (one buffer outside: the FIFO path), the bad
// inputs of strataMemAlloc/strataCommWindowRegister/Deregister, and descriptor hygiene. The
// direct algorithms come from the registry: registering one tests it here.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <tuple>

#include "algorithms/algorithm.h"
#include "coll/coll_harness.h"

namespace strata::test {
namespace {

constexpr size_t kLarge = (1u << 20) + 3;

// A window per rank big enough for any case: input at offset 0, output at kOutOffset.
constexpr size_t kRegion = 32u << 20;
constexpr size_t kOutOffset = 16u << 20;

struct Windowed {
  void* mem = nullptr;
  strataWindow_t win = nullptr;
  char* in() const { return static_cast<char*>(mem); }
  char* out() const { return static_cast<char*>(mem) + kOutOffset; }
};

// Allocates and registers this rank's region (collective).
Windowed registerRegion(strataComm_t comm) {
  Windowed w;
  EXPECT_EQ(strataMemAlloc(&w.mem, kRegion), strataSuccess) << strataGetLastError(nullptr);
  EXPECT_EQ(strataCommWindowRegister(comm, w.mem, kRegion, &w.win, 0), strataSuccess)
      << strataGetLastError(comm);
  return w;
}

void release(strataComm_t comm, Windowed& w) {
  EXPECT_EQ(strataCommWindowDeregister(comm, w.win), strataSuccess) << strataGetLastError(comm);
  EXPECT_EQ(strataMemFree(w.mem), strataSuccess) << strataGetLastError(nullptr);
}

struct Case {
  std::string coll;
  std::string algo;
};
using Param = std::tuple<Case, int, size_t>;

bool isReduction(const std::string& c) { return c == "allreduce" || c == "reducescatter"; }

// Every dtype (with every op for reductions) at small counts; float32 and bfloat16 with sum and
// max at the large count.
std::vector<std::pair<strataDataType_t, strataRedOp_t>> combos(size_t count, bool reduction) {
  std::vector<std::pair<strataDataType_t, strataRedOp_t>> out;
  for (strataDataType_t t : allTypes()) {
    const bool large = count >= kLarge;
    if (large && t != strataFloat32 && t != strataBfloat16) continue;
    if (!reduction) {
      out.push_back({t, strataSum});
      continue;
    }
    for (strataRedOp_t op : allOps())
      if (!large || op == strataSum || op == strataAvg) out.push_back({t, op});
  }
  return out;
}

// Runs one call of `coll` with buffers in w (in place or not) and checks the result bit for bit.
// Returns an error description, or "".
std::string runAndCheck(const std::string& coll, int rank, int n, size_t cnt, strataDataType_t t,
                        strataRedOp_t op, bool inPlace, strataComm_t comm, const Windowed& w) {
  const size_t es = dtypeSize(t);
  const size_t un = static_cast<size_t>(n);
  const size_t ur = static_cast<size_t>(rank);
  std::vector<char> expect;
  auto fill = [&](void* buf, size_t elems, int who, size_t base) {
    fillPeriodic(t, buf, elems, base, [&](size_t j) { return inputValue(t, op, who, j); });
  };
  strataResult_t res = strataSuccess;
  const char* result = w.out();
  size_t checkCount = 0;
  if (coll == "allreduce") {
    fill(w.in(), cnt, rank, 0);
    expect.resize(cnt * es);
    fillPeriodic(t, expect.data(), cnt, 0, [&](size_t j) { return reducedValue(t, op, n, j); });
    void* dst = inPlace ? w.in() : w.out();
    res = strataAllReduce(w.in(), dst, cnt, t, op, comm, nullptr);
    result = static_cast<const char*>(dst);
    checkCount = cnt;
  } else if (coll == "reducescatter") {
    fill(w.in(), un * cnt, rank, 0);
    expect.resize(cnt * es);
    fillPeriodic(t, expect.data(), cnt, ur * cnt,
                 [&](size_t j) { return reducedValue(t, op, n, j); });
    void* dst = inPlace ? w.in() + ur * cnt * es : w.out();
    res = strataReduceScatter(w.in(), dst, cnt, t, op, comm, nullptr);
    result = static_cast<const char*>(dst);
    checkCount = cnt;
  } else if (coll == "allgather") {
    expect.resize(un * cnt * es);
    for (int q = 0; q < n; ++q) fill(expect.data() + static_cast<size_t>(q) * cnt * es, cnt, q, 0);
    if (inPlace) {
      fill(w.out() + ur * cnt * es, cnt, rank, 0);
      res = strataAllGather(w.out() + ur * cnt * es, w.out(), cnt, t, comm, nullptr);
    } else {
      fill(w.in(), cnt, rank, 0);
      res = strataAllGather(w.in(), w.out(), cnt, t, comm, nullptr);
    }
    checkCount = un * cnt;
  } else if (coll == "broadcast") {
    const int root = static_cast<int>((cnt + 1) % un);
    expect.resize(cnt * es);
    fill(expect.data(), cnt, root, 0);
    std::memset(w.out(), 0, cnt * es);
    if (inPlace) {
      if (rank == root) fill(w.out(), cnt, root, 0);
      res = strataBroadcast(w.out(), w.out(), cnt, t, root, comm, nullptr);
    } else {
      if (rank == root) fill(w.in(), cnt, root, 0);
      res = strataBroadcast(rank == root ? w.in() : nullptr, w.out(), cnt, t, root, comm, nullptr);
    }
    checkCount = cnt;
  } else if (coll == "alltoall") {
    fill(w.in(), un * cnt, rank, 0);
    expect.resize(un * cnt * es);
    for (int q = 0; q < n; ++q)
      fill(expect.data() + static_cast<size_t>(q) * cnt * es, cnt, q, ur * cnt);
    void* dst = inPlace ? w.in() : w.out();
    res = strataAllToAll(w.in(), dst, cnt, t, comm, nullptr);
    result = static_cast<const char*>(dst);
    checkCount = un * cnt;
  } else if (coll == "alltoallv") {
    // Uneven counts (rank r sends cnt + (r + q) % 3 elements to q) with gaps between the blocks
    // (one element on the send side, two on the receive side). In place is not an AllToAllv
    // shape the direct algorithm takes: nothing to check.
    if (inPlace) return "";
    auto sent = [&](size_t from, size_t to) { return cnt + (from + to) % 3; };
    std::vector<size_t> sc(un), sd(un), rc(un), rd(un);
    size_t sAt = 0, rAt = 0;
    for (size_t q = 0; q < un; ++q) {
      sc[q] = sent(ur, q);
      sd[q] = sAt;
      sAt += sc[q] + 1;
      rc[q] = sent(q, ur);
      rd[q] = rAt;
      rAt += rc[q] + 2;
    }
    for (size_t q = 0; q < un; ++q) fill(w.in() + sd[q] * es, sc[q], rank, q * 7);
    res = strataAllToAllv(w.in(), sc.data(), sd.data(), w.out(), rc.data(), rd.data(), t, comm,
                          nullptr);
    const std::string what = coll + " " + dtypeName(t) + " rank " + std::to_string(rank) +
                             " count " + std::to_string(cnt);
    if (res != strataSuccess) return what + ": " + strataGetLastError(comm);
    for (size_t q = 0; q < un; ++q) {
      std::vector<char> block(rc[q] * es + 1);
      fill(block.data(), rc[q], static_cast<int>(q), ur * 7);
      const long bad = firstMismatch(w.out() + rd[q] * es, block.data(), rc[q], t);
      if (bad >= 0)
        return what + ": block from rank " + std::to_string(q) + ", first wrong element " +
               std::to_string(bad);
    }
    return "";
  } else {
    return "no reference check for " + coll;
  }
  const std::string what = coll + " " + dtypeName(t) + "/" + redopName(op) +
                           (inPlace ? "/in-place" : "/out-of-place") + " rank " +
                           std::to_string(rank) + " count " + std::to_string(cnt);
  if (res != strataSuccess) return what + ": " + strataGetLastError(comm);
  const long bad = firstMismatch(result, expect.data(), checkCount, t);
  if (bad >= 0) return what + ": first wrong element " + std::to_string(bad);
  return "";
}

// runAndCheck for every type and operator of `coll` at `cnt` that `keep` accepts, out of place
// and in place. Returns the first error description, or "".
template <typename Keep>
std::string checkEveryCombo(const std::string& coll, int rank, int n, size_t cnt,
                            strataComm_t comm, const Windowed& w, Keep&& keep) {
  for (auto [t, op] : combos(cnt, isReduction(coll))) {
    if (!keep(t)) continue;
    for (bool inPlace : {false, true}) {
      std::string err = runAndCheck(coll, rank, n, cnt, t, op, inPlace, comm, w);
      if (!err.empty()) return err;
    }
  }
  return "";
}

class DirectCollTest : public ::testing::TestWithParam<Param> {};

TEST_P(DirectCollTest, MatchesReference) {
  const auto& c = std::get<0>(GetParam());
  const int n = std::get<1>(GetParam());
  const size_t cnt = std::get<2>(GetParam());
  const std::string tune = c.coll + ":@" + c.algo;
  runRanks(n, tune, [&](int rank, strataComm_t comm) {
    Windowed w = registerRegion(comm);
    ASSERT_EQ(checkEveryCombo(c.coll, rank, n, cnt, comm, w, [](strataDataType_t) { return true; }),
              "");
    // A direct call moves nothing through the transport.
    strataStats_t st;
    ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
    EXPECT_EQ(st.total.bytesSent[0], 0u) << "rank " << rank;
    release(comm, w);
  });
}

std::vector<Case> directCases() {
  std::vector<Case> out;
  for (const Algorithm* a : algorithmRegistry())
    if (a->direct()) out.push_back({collKey(a->coll()), a->name()});
  return out;
}

std::string paramName(const ::testing::TestParamInfo<Param>& info) {
  const Case& c = std::get<0>(info.param);
  return c.coll + "_" + c.algo + "_r" + std::to_string(std::get<1>(info.param)) + "_c" +
         std::to_string(std::get<2>(info.param));
}

// Rank counts 1-8 sampled with small counts; two and three ranks at the large count. (A call
// with nothing to move is never windowed: the FIFO algorithms cover count 0.)
INSTANTIATE_TEST_SUITE_P(Small, DirectCollTest,
                         ::testing::Combine(::testing::ValuesIn(directCases()),
                                            ::testing::Values(1, 3, 8),
                                            ::testing::Values<size_t>(7)),
                         paramName);
INSTANTIATE_TEST_SUITE_P(Medium, DirectCollTest,
                         ::testing::Combine(::testing::ValuesIn(directCases()),
                                            ::testing::Values(2, 4),
                                            ::testing::Values<size_t>(1000)),
                         paramName);
INSTANTIATE_TEST_SUITE_P(Large, DirectCollTest,
                         ::testing::Combine(::testing::ValuesIn(directCases()),
                                            ::testing::Values(2, 3),
                                            ::testing::Values<size_t>(kLarge)),
                         paramName);

// The flag path (small calls): every flag plan of the registry, pinned, with plain buffers and
// with buffers in windows, every dtype and op at counts whose slot data fits (kFlagBytes), in
// and out of place. Calls too large for the slots are skipped, not run.
class FlagCollTest : public ::testing::TestWithParam<std::tuple<Case, int, bool>> {};

constexpr size_t kFlagSlotBytes = 4096;

bool fitsFlags(const std::string& coll, size_t cnt, strataDataType_t t, int n) {
  const size_t bytes = cnt * dtypeSize(t) * (coll == "reducescatter" ? static_cast<size_t>(n) : 1);
  return bytes <= kFlagSlotBytes;
}

TEST_P(FlagCollTest, MatchesReference) {
  // Plain names, not a structured binding: the lambda below captures them (clang 14).
  const Case& c = std::get<0>(GetParam());
  const int n = std::get<1>(GetParam());
  const bool inWindows = std::get<2>(GetParam());
  const std::string tune = c.coll + ":@" + c.algo;
  runRanks(n, tune, [&](int rank, strataComm_t comm) {
    Windowed w;
    std::vector<char> plain;
    if (inWindows) {
      w = registerRegion(comm);
    } else {
      plain.resize(kOutOffset + 64 * 1024);
      w.mem = plain.data();
    }
    for (size_t cnt : {size_t{1}, size_t{7}, size_t{512}}) {
      ASSERT_EQ(checkEveryCombo(c.coll, rank, n, cnt, comm, w,
                                [&](strataDataType_t t) { return fitsFlags(c.coll, cnt, t, n); }),
                "");
    }
    // Nothing went through the FIFOs, and the statistics name the flag plan.
    strataStats_t st;
    ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
    EXPECT_EQ(st.total.bytesSent[0], 0u) << "rank " << rank;
    EXPECT_STREQ(st.lastAlgo, "flag");
    if (inWindows) release(comm, w);
  });
}

std::vector<Case> flagCases() {
  std::vector<Case> out;
  for (const Algorithm* a : algorithmRegistry())
    if (a->flagPath()) out.push_back({collKey(a->coll()), a->name()});
  return out;
}

INSTANTIATE_TEST_SUITE_P(
    Registry, FlagCollTest,
    ::testing::Combine(::testing::ValuesIn(flagCases()), ::testing::Values(2, 3, 8),
                       ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<Case, int, bool>>& info) {
      const Case& c = std::get<0>(info.param);
      return c.coll + "_" + c.algo + "_r" + std::to_string(std::get<1>(info.param)) +
             (std::get<2>(info.param) ? "_windows" : "_plain");
    });

// Small calls on the flag path alternating with larger ones through the FIFO, the data changing
// every call, so a slot reused two calls later never shows stale data.
TEST(Flags, SmallCallsAlternateWithFifoCalls) {
  runRanks(3, "allreduce:0-4k:@flag", [&](int rank, strataComm_t comm) {
    std::vector<float> small(2), large(5000);
    for (int iter = 0; iter < 50; ++iter) {
      small.assign(small.size(), float(rank + iter));
      ASSERT_EQ(strataAllReduce(small.data(), small.data(), small.size(), strataFloat32, strataSum,
                                comm, nullptr),
                strataSuccess)
          << strataGetLastError(comm);
      for (float v : small) ASSERT_EQ(v, float(3 * iter + 3)) << "iteration " << iter;
      strataStats_t st;
      ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
      EXPECT_STREQ(st.lastAlgo, "flag");
      if (iter % 3 == 0) {
        large.assign(large.size(), float(rank));
        ASSERT_EQ(strataAllReduce(large.data(), large.data(), large.size(), strataFloat32,
                                  strataSum, comm, nullptr),
                  strataSuccess);
        ASSERT_EQ(large.front(), 3.0f);
        ASSERT_EQ(large.back(), 3.0f);
      }
    }
  });
}

// Unpinned, small windowed calls take the flag path, larger ones a direct algorithm, and calls
// with plain buffers the FIFO.
TEST(Flags, SmallWindowedCallsTakeTheFlagPath) {
  runRanks(2, "", [&](int rank, strataComm_t comm) {
    Windowed w = registerRegion(comm);
    strataStats_t st;
    for (size_t cnt : {size_t{2}, size_t{64}, size_t{1000}}) {
      float* in = reinterpret_cast<float*>(w.in());
      for (size_t i = 0; i < cnt; ++i) in[i] = float(rank + 1);
      ASSERT_EQ(strataAllReduce(in, w.out(), cnt, strataFloat32, strataSum, comm, nullptr),
                strataSuccess)
          << strataGetLastError(comm);
      ASSERT_EQ(reinterpret_cast<float*>(w.out())[cnt - 1], 3.0f);
      ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
      EXPECT_EQ(std::string(st.lastAlgo) == "flag", cnt * sizeof(float) <= 256) << cnt;
    }
    std::vector<float> plain(2, 1.0f);
    ASSERT_EQ(strataAllReduce(plain.data(), plain.data(), 2, strataFloat32, strataSum, comm, nullptr),
              strataSuccess);
    ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
    EXPECT_STRNE(st.lastAlgo, "flag");
    release(comm, w);
  });
}

// Ranks that disagree on a small call fail naming both calls instead of reading each other's
// slots: a different root, a different count, and a flag call against a FIFO call.
TEST(Flags, MismatchedCallsFailNamingBoth) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 20000;
  cfg.algo = "allreduce:0-4k:@flag#broadcast:0-4k:@flag";
  runRanksWith(2, cfg, [](int rank, strataComm_t comm) {
    float b[4] = {1, 2, 3, 4};
    const strataResult_t r = strataBroadcast(b, b, 4, strataFloat32, rank, comm, nullptr);
    const std::string msg = strataGetLastError(comm);
    EXPECT_EQ(r, strataInvalidUsage) << msg;
    EXPECT_NE(msg.find("rank " + std::to_string(1 - rank) + " posted call #1 Broadcast of 16 "
                       "bytes from root " + std::to_string(1 - rank)),
              std::string::npos)
        << msg;
  });
  runRanksWith(2, cfg, [](int rank, strataComm_t comm) {
    float x[8] = {};
    const strataResult_t r =
        strataAllReduce(x, x, rank == 0 ? 4 : 8, strataFloat32, strataSum, comm, nullptr);
    const std::string msg = strataGetLastError(comm);
    EXPECT_EQ(r, strataInvalidUsage) << msg;
    EXPECT_NE(msg.find("expects call #1 AllReduce of " + std::string(rank == 0 ? "16" : "32")),
              std::string::npos)
        << msg;
  });
  runRanksWith(2, cfg, [](int rank, strataComm_t comm) {
    std::vector<float> x(rank == 0 ? 4 : 100000);
    const strataResult_t r =
        strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, comm, nullptr);
    const std::string msg = strataGetLastError(comm);
    if (rank == 0) {
      EXPECT_EQ(r, strataInvalidUsage) << msg;
      EXPECT_NE(msg.find("through the flags"), std::string::npos) << msg;
    } else {
      EXPECT_TRUE(r == strataInvalidUsage || r == strataRemoteError) << msg;
    }
  });
}

// One buffer in a window and the other not: the FIFO algorithms run (bytes through the
// transport) and the results are still exact; then both in windows: no bytes through it.
TEST(Windows, MixedBuffersTakeTheFifoPath) {
  runRanks(3, "", [&](int rank, strataComm_t comm) {
    Windowed w = registerRegion(comm);
    const size_t cnt = 2000;  // beyond the flag slots (4 KiB)
    std::vector<float> plain(cnt);
    for (size_t i = 0; i < cnt; ++i) reinterpret_cast<float*>(w.in())[i] = float(rank + 1);
    ASSERT_EQ(strataAllReduce(w.in(), plain.data(), cnt, strataFloat32, strataSum, comm, nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    for (size_t i = 0; i < cnt; ++i) ASSERT_EQ(plain[i], 6.0f);
    strataStats_t st;
    ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
    EXPECT_GT(st.total.bytesSent[0], 0u);
    const uint64_t before = st.total.bytesSent[0];
    ASSERT_EQ(strataAllReduce(w.in(), w.out(), cnt, strataFloat32, strataSum, comm, nullptr),
              strataSuccess);
    for (size_t i = 0; i < cnt; ++i) ASSERT_EQ(reinterpret_cast<float*>(w.out())[i], 6.0f);
    ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
    EXPECT_EQ(st.total.bytesSent[0], before) << "the windowed call went through the FIFO";
    release(comm, w);
  });
}

// AllToAllv with only the receive buffer in a window, then with both: correct either way, and
// through the FIFO unpinned (the direct AllToAllv runs only when pinned).
TEST(Windows, MixedAllToAllvTakesTheFifoPath) {
  runRanks(3, "", [&](int rank, strataComm_t comm) {
    Windowed w = registerRegion(comm);
    const size_t cnt = 100;
    std::vector<size_t> counts(3, cnt), displs = {0, cnt, 2 * cnt};
    std::vector<float> plain(3 * cnt);
    for (size_t i = 0; i < 3 * cnt; ++i) plain[i] = float(rank * 1000 + i);
    std::memcpy(w.in(), plain.data(), plain.size() * sizeof(float));
    strataStats_t st;
    for (bool both : {false, true}) {
      const void* src = both ? static_cast<const void*>(w.in()) : plain.data();
      ASSERT_EQ(strataAllToAllv(src, counts.data(), displs.data(), w.out(), counts.data(),
                                displs.data(), strataFloat32, comm, nullptr),
                strataSuccess)
          << strataGetLastError(comm);
      const float* out = reinterpret_cast<const float*>(w.out());
      for (size_t q = 0; q < 3; ++q)
        for (size_t i = 0; i < cnt; ++i)
          ASSERT_EQ(out[q * cnt + i], float(q * 1000 + static_cast<size_t>(rank) * cnt + i));
      ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
      EXPECT_STRNE(st.lastAlgo, "direct") << (both ? "both in windows" : "mixed");
    }
    release(comm, w);
  });
}

// AllToAllv whose ranks send different amounts, each from a window sized for its own extent: the
// ranks still agree on the direct algorithm (they used to disagree, one checking its extent
// against the smaller window of its peer, and fail).
TEST(Windows, AllToAllvWithWindowsOfDifferentSizes) {
  runRanks(2, "alltoallv:@direct", [&](int rank, strataComm_t comm) {
    const size_t mine = rank == 0 ? 1000 : 3000;  // elements this rank sends to each rank
    const size_t bytes = 2 * (mine + 3000) * sizeof(float);
    void* mem = nullptr;
    strataWindow_t win = nullptr;
    ASSERT_EQ(strataMemAlloc(&mem, bytes), strataSuccess);
    ASSERT_EQ(strataCommWindowRegister(comm, mem, bytes, &win, 0), strataSuccess);
    float* in = static_cast<float*>(mem);
    float* out = in + 2 * mine;
    std::vector<size_t> sc = {mine, mine}, sd = {0, mine}, rc = {1000, 3000}, rd = {0, 1000};
    for (size_t i = 0; i < 2 * mine; ++i) in[i] = float(rank * 10000 + i);
    ASSERT_EQ(strataAllToAllv(in, sc.data(), sd.data(), out, rc.data(), rd.data(), strataFloat32,
                              comm, nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    for (size_t i = 0; i < 1000; ++i) ASSERT_EQ(out[i], float(rank * 1000 + i));
    for (size_t i = 0; i < 3000; ++i) ASSERT_EQ(out[1000 + i], float(10000 + rank * 3000 + i));
    strataStats_t st;
    ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
    EXPECT_STREQ(st.lastAlgo, "direct");
    ASSERT_EQ(strataCommWindowDeregister(comm, win), strataSuccess);
    ASSERT_EQ(strataMemFree(mem), strataSuccess);
  });
}

TEST(Windows, BadInputsNameWhatWasWrong) {
  void* p = nullptr;
  EXPECT_EQ(strataMemAlloc(nullptr, 64), strataInvalidArgument);
  EXPECT_EQ(strataMemAlloc(&p, 0), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("size"), std::string::npos);
  int local = 0;
  EXPECT_EQ(strataMemFree(&local), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("strataMemAlloc"), std::string::npos);

  runRanks(2, "", [&](int rank, strataComm_t comm) {
    void* mem = nullptr;
    ASSERT_EQ(strataMemAlloc(&mem, 8192), strataSuccess);
    strataWindow_t win = nullptr;
    std::vector<char> heap(4096);
    // Rank 1 passes heap memory: it gets InvalidArgument naming its pointer, rank 0 hears of it.
    void* buff = rank == 1 ? static_cast<void*>(heap.data()) : mem;
    strataResult_t r = strataCommWindowRegister(comm, buff, 4096, &win, 0);
    if (rank == 1) {
      EXPECT_EQ(r, strataInvalidArgument);
      char ptr[32];
      std::snprintf(ptr, sizeof ptr, "%p", buff);
      EXPECT_NE(std::string(strataGetLastError(comm)).find(ptr), std::string::npos)
          << strataGetLastError(comm);
    } else {
      EXPECT_EQ(r, strataRemoteError);
      EXPECT_NE(std::string(strataGetLastError(comm)).find("rank 1"), std::string::npos);
    }
    EXPECT_EQ(win, nullptr);
    // Rank 1's size runs past the allocation (rounded to 8192 bytes).
    r = strataCommWindowRegister(comm, static_cast<char*>(mem) + 4096, rank == 1 ? 8192 : 4096,
                                 &win, 0);
    if (rank == 0) {
      EXPECT_EQ(r, strataRemoteError);
    } else {
      EXPECT_EQ(r, strataInvalidArgument);
      EXPECT_NE(std::string(strataGetLastError(comm)).find("runs past"), std::string::npos)
          << strataGetLastError(comm);
    }
    EXPECT_EQ(strataCommWindowRegister(comm, mem, 4096, &win, 7), strataInvalidArgument);
    EXPECT_EQ(strataCommWindowRegister(comm, mem, 4096, nullptr, 0), strataInvalidArgument);
    EXPECT_EQ(strataCommWindowDeregister(comm, nullptr), strataInvalidArgument);

    ASSERT_EQ(strataCommWindowRegister(comm, mem, 8192, &win, 0), strataSuccess)
        << strataGetLastError(comm);
    EXPECT_EQ(strataMemFree(mem), strataInvalidUsage);  // still registered
    EXPECT_NE(std::string(strataGetLastError(nullptr)).find("window"), std::string::npos);

    // A call queued on a stream pins the window: rank 0 queues its AllReduce first, so it is
    // still waiting for rank 1 when both try to deregister.
    strataStream_t stream = nullptr;
    ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
    float* data = static_cast<float*>(mem);
    data[0] = 1.0f;
    if (rank == 0) {
      ASSERT_EQ(strataAllReduce(data, data, 1, strataFloat32, strataSum, comm, stream),
                strataSuccess);
      EXPECT_EQ(strataCommWindowDeregister(comm, win), strataInvalidArgument);
      EXPECT_NE(std::string(strataGetLastError(comm)).find("queued"), std::string::npos)
          << strataGetLastError(comm);
    } else {
      EXPECT_EQ(strataCommWindowDeregister(comm, win), strataRemoteError);
      ASSERT_EQ(strataAllReduce(data, data, 1, strataFloat32, strataSum, comm, stream),
                strataSuccess);
    }
    ASSERT_EQ(strataStreamSynchronize(stream), strataSuccess) << strataGetLastError(comm);
    EXPECT_EQ(data[0], 2.0f);
    ASSERT_EQ(strataStreamDestroy(stream), strataSuccess);
    EXPECT_EQ(strataCommWindowDeregister(comm, win), strataSuccess) << strataGetLastError(comm);
    EXPECT_EQ(strataCommWindowDeregister(comm, win), strataInvalidArgument);
    EXPECT_EQ(strataMemFree(mem), strataSuccess);
    EXPECT_EQ(strataMemFree(mem), strataInvalidArgument);  // already freed
  });
}

// Open descriptors of this process; the memfds among them, with their close-on-exec flag.
size_t countFds(std::vector<bool>* memfdCloexec = nullptr) {
  size_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  for (dirent* e = readdir(d); e; e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ++n;
    if (!memfdCloexec) continue;
    char link[256] = {};
    const std::string path = std::string("/proc/self/fd/") + e->d_name;
    if (readlink(path.c_str(), link, sizeof link - 1) > 0 &&
        std::string(link).find("memfd:strata-mem") != std::string::npos)
      memfdCloexec->push_back((fcntl(std::atoi(e->d_name), F_GETFD) & FD_CLOEXEC) != 0);
  }
  closedir(d);
  return n - 1;  // the directory's own descriptor
}

TEST(Windows, NoDescriptorLeaksAndEveryMemfdIsCloseOnExec) {
  std::vector<bool> cloexec;
  const size_t before = countFds(&cloexec);
  const size_t memfdsBefore = cloexec.size();
  void* mem = nullptr;
  ASSERT_EQ(strataMemAlloc(&mem, 1 << 16), strataSuccess);
  cloexec.clear();
  EXPECT_EQ(countFds(&cloexec), before + 1);
  ASSERT_EQ(cloexec.size(), memfdsBefore + 1);
  for (bool c : cloexec) EXPECT_TRUE(c);
  EXPECT_EQ(strataMemFree(mem), strataSuccess);
  EXPECT_EQ(countFds(), before);
}

}  // namespace
}  // namespace strata::test
