// strataAllReduceFused against strataAllReduce followed by the same epilogue: every dtype, 1-8
// ranks (sampled), row lengths that do and do not divide the row count among the ranks, in place
// and out of place, both algorithms, shared memory and the sim; the epilogue's calls and their
// (offset, count); a residual-add + RMSNorm epilogue, also with the int8 gather; bad arguments.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include "algorithms/patterns/blocks.h"
#include "coll/coll_harness.h"

namespace strata::test {
namespace {

double loadValue(strataDataType_t t, const void* buf, size_t i) {
  switch (t) {
    case strataInt8:
      return static_cast<const int8_t*>(buf)[i];
    case strataUint8:
      return static_cast<const uint8_t*>(buf)[i];
    case strataInt32:
      return static_cast<const int32_t*>(buf)[i];
    case strataUint32:
      return static_cast<const uint32_t*>(buf)[i];
    case strataInt64:
      return static_cast<double>(static_cast<const int64_t*>(buf)[i]);
    case strataUint64:
      return static_cast<double>(static_cast<const uint64_t*>(buf)[i]);
    case strataFloat64:
      return static_cast<const double*>(buf)[i];
    default: {
      float f = 0;
      toFloat32(t, static_cast<const char*>(buf) + i * dtypeSize(t), &f, 1);
      return f;
    }
  }
}

// An epilogue whose result depends on each element's place in the whole buffer, so a wrong
// offset or a shard handled twice shows: every third element (by global index) is negated
// (unsigned types: incremented). Exact in every type for the harness's small values.
void markEpilogue(void* shard, size_t off, size_t count, strataDataType_t t, void*) {
  for (size_t i = 0; i < count; ++i) {
    if ((off + i) % 3 != 0) continue;
    const double v = loadValue(t, shard, i);
    storeValue(t, shard, i, isSigned(t) ? -v : v + 1);
  }
}

struct Call {
  size_t offset, count;
  strataDataType_t dtype;
  void* user;
};

// Records every call (and applies markEpilogue).
struct Recorder {
  std::mutex mutex;
  std::vector<Call> calls;
  static void fn(void* shard, size_t off, size_t count, strataDataType_t t, void* user) {
    auto* r = static_cast<Recorder*>(user);
    {
      std::lock_guard<std::mutex> g(r->mutex);
      r->calls.push_back({off, count, t, user});
    }
    markEpilogue(shard, off, count, t, nullptr);
  }
};

struct Shape {
  size_t count;
  size_t row;
};

// Runs the fused call and the reference on one rank; compares bit for bit.
void checkOne(int rank, int n, strataComm_t comm, strataDataType_t t, strataRedOp_t op, Shape sh,
              bool inPlace, const std::string& what) {
  const size_t es = dtypeSize(t);
  std::vector<char> in(sh.count * es), out(sh.count * es), ref(sh.count * es);
  fillPeriodic(t, in.data(), sh.count, 0, [&](size_t i) { return inputValue(t, op, rank, i); });
  ASSERT_EQ(strataAllReduce(in.data(), ref.data(), sh.count, t, op, comm, nullptr), strataSuccess)
      << what << strataGetLastError(comm);
  markEpilogue(ref.data(), 0, sh.count, t, nullptr);
  Recorder rec;
  strataEpilogue_t epi{};
  epi.fn = &Recorder::fn;
  epi.user = &rec;
  epi.rowElems = sh.row;
  if (inPlace) out = in;
  const strataResult_t res = strataAllReduceFused(inPlace ? out.data() : in.data(), out.data(),
                                                  sh.count, t, op, &epi, comm, nullptr);
  ASSERT_EQ(res, strataSuccess) << what << strataGetLastError(comm);
  EXPECT_EQ(firstMismatch(out.data(), ref.data(), sh.count, t), -1) << what << " rank " << rank;
  // The calls cover exactly this rank's shard, in order, in whole rows.
  const size_t row = sh.row ? sh.row : 1;
  const patterns::Block shard = patterns::blockOf(sh.count / row, n, rank);
  size_t next = shard.offset * row;
  for (const Call& c : rec.calls) {
    EXPECT_EQ(c.offset, next) << what;
    EXPECT_EQ(c.count % row, 0u) << what;
    EXPECT_EQ(c.dtype, t) << what;
    EXPECT_EQ(c.user, &rec) << what;
    next = c.offset + c.count;
  }
  EXPECT_EQ(next, (shard.offset + shard.count) * row) << what << " rank " << rank;
  if (sh.row == 0) {
    EXPECT_EQ(rec.calls.size(), shard.count > 0 ? 1u : 0u) << what;
  }
}

// Shapes for n ranks: no row length; rows the ranks divide; rows they do not (some ranks own
// one row more, a rank may own none).
std::vector<Shape> shapesFor(int n) {
  const size_t un = static_cast<size_t>(n);
  return {{1000, 0}, {3 * un * 24, 24}, {(2 * un + 1) * 24, 24}, {(un > 1 ? un - 1 : 1) * 5, 5}};
}

void runMatrix(int n, const strataConfig_t& cfg, const std::vector<strataDataType_t>& types) {
  runRanksWith(n, cfg, [&](int rank, strataComm_t comm) {
    size_t k = 0;
    for (strataDataType_t t : types)
      for (const Shape& sh : shapesFor(n)) {
        const bool inPlace = (k++ % 2) == 0;
        const strataRedOp_t op = k % 5 == 0 ? strataMax : (k % 7 == 0 ? strataAvg : strataSum);
        const std::string what = std::string(dtypeName(t)) + " count " + std::to_string(sh.count) +
                                 " row " + std::to_string(sh.row) +
                                 (inPlace ? " in place" : " out of place") + " op " +
                                 std::to_string(op) + ": ";
        checkOne(rank, n, comm, t, op, sh, inPlace, what);
      }
  });
}

class FusedMatrix : public ::testing::TestWithParam<std::tuple<int, std::string>> {};

TEST_P(FusedMatrix, MatchesAllReduceThenEpilogue) {
  const auto [n, algo] = GetParam();
  const std::string tune = "allreducefused:@" + algo;
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.algo = tune.c_str();
  cfg.timeoutMs = 60000;
  // Every dtype on the small rank counts; a sample on the larger ones.
  std::vector<strataDataType_t> types = allTypes();
  if (n > 3) types = {strataInt32, strataBfloat16, strataFloat32, strataFloat8e5m2};
  runMatrix(n, cfg, types);
}

INSTANTIATE_TEST_SUITE_P(Shm, FusedMatrix,
                         ::testing::Combine(::testing::Values(1, 2, 3, 5, 8),
                                            ::testing::Values("ring", "ringpipe", "twoshot")),
                         [](const auto& info) {
                           return std::get<1>(info.param) + "_r" +
                                  std::to_string(std::get<0>(info.param));
                         });

TEST(FusedSim, MatchesAllReduceThenEpilogueOnHccs8) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.transport = "sim";
  cfg.topoFile = "hccs-8";
  cfg.timeoutMs = 60000;
  runMatrix(8, cfg, {strataInt8, strataFloat16, strataBfloat16, strataFloat32, strataFloat64});
}

// Several blocks per shard: one call per block of whole rows, in order, each as soon as it is
// reduced; the same calls on both algorithms.
TEST(FusedCalls, OneCallPerBlockOfRows) {
  const size_t row = 256, rows = 4000;  // 1 KiB rows: 256 rows a block, 2000 rows a shard
  for (const char* algo :
       {"allreducefused:@ring", "allreducefused:@ringpipe", "allreducefused:@twoshot"}) {
    runRanks(2, algo, [&](int rank, strataComm_t comm) {
      std::vector<float> x(rows * row), ref(rows * row);
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i + rank) % 5);
      ASSERT_EQ(
          strataAllReduce(x.data(), ref.data(), x.size(), strataFloat32, strataSum, comm, nullptr),
          strataSuccess);
      markEpilogue(ref.data(), 0, ref.size(), strataFloat32, nullptr);
      Recorder rec;
      strataEpilogue_t epi{};
      epi.fn = &Recorder::fn;
      epi.user = &rec;
      epi.rowElems = row;
      ASSERT_EQ(strataAllReduceFused(x.data(), x.data(), x.size(), strataFloat32, strataSum, &epi,
                                     comm, nullptr),
                strataSuccess)
          << strataGetLastError(comm);
      EXPECT_EQ(firstMismatch(x.data(), ref.data(), x.size(), strataFloat32), -1) << algo;
      ASSERT_EQ(rec.calls.size(), 8u) << algo;
      for (size_t c = 0; c < 8; ++c) {
        EXPECT_EQ(rec.calls[c].offset, (static_cast<size_t>(rank) * 2000 + c * 250) * row) << algo;
        EXPECT_EQ(rec.calls[c].count, 250 * row) << algo;
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Residual add + RMSNorm on the owned rows: the FlashComm 1 epilogue of a decoder layer.

struct NormState {
  size_t hidden;
  const float* residual;  // the whole [tokens, hidden] residual stream
  const float* gamma;     // [hidden]
};

void residualRmsNorm(void* shard, size_t off, size_t count, strataDataType_t t, void* user) {
  const auto* s = static_cast<const NormState*>(user);
  if (t != strataFloat32) return;
  auto* x = static_cast<float*>(shard);
  for (size_t r = 0; r < count / s->hidden; ++r) {
    float* row = x + r * s->hidden;
    const float* res = s->residual + off + r * s->hidden;
    double sq = 0;
    for (size_t j = 0; j < s->hidden; ++j) {
      row[j] += res[j];
      sq += static_cast<double>(row[j]) * row[j];
    }
    const float inv =
        static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(s->hidden) + 1e-6));
    for (size_t j = 0; j < s->hidden; ++j) row[j] = row[j] * inv * s->gamma[j];
  }
}

void checkNorm(int n, const strataConfig_t& cfg, bool quantized) {
  const size_t hidden = 128, tokens = 37;  // 37 tokens: no rank count here divides them
  std::vector<float> residual(tokens * hidden), gamma(hidden);
  for (size_t i = 0; i < residual.size(); ++i) residual[i] = std::sin(0.1f * static_cast<float>(i));
  for (size_t j = 0; j < hidden; ++j) gamma[j] = 0.5f + static_cast<float>(j % 7) / 7.0f;
  NormState state{hidden, residual.data(), gamma.data()};
  runRanksWith(n, cfg, [&](int rank, strataComm_t comm) {
    std::vector<float> x(tokens * hidden), ref(tokens * hidden), out(tokens * hidden);
    // Multiples of 1/64: sums exact in any order, so both reductions agree bit for bit.
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = std::round(64.0f * std::cos(0.01f * static_cast<float>(i * (rank + 1)))) / 64.0f;
    ASSERT_EQ(
        strataAllReduce(x.data(), ref.data(), x.size(), strataFloat32, strataSum, comm, nullptr),
        strataSuccess);
    residualRmsNorm(ref.data(), 0, ref.size(), strataFloat32, &state);
    strataEpilogue_t epi{};
    epi.fn = residualRmsNorm;
    epi.user = &state;
    epi.rowElems = hidden;
    epi.quantizeGather = quantized ? 1 : 0;
    epi.quant = strataQuantInt8;
    ASSERT_EQ(strataAllReduceFused(x.data(), out.data(), x.size(), strataFloat32, strataSum, &epi,
                                   comm, nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    for (size_t t = 0; t < tokens; ++t) {
      // The int8 gather's bound: half a step of the row's scale (max|x| / 127).
      float maxAbs = 0;
      for (size_t j = 0; j < hidden; ++j) maxAbs = std::max(maxAbs, std::fabs(ref[t * hidden + j]));
      const float tol = quantized ? maxAbs / 127.0f * 0.5f * 1.001f : 0.0f;
      for (size_t j = 0; j < hidden; ++j) {
        const size_t i = t * hidden + j;
        if (quantized)
          ASSERT_LE(std::fabs(out[i] - ref[i]), tol) << "token " << t << " elem " << j;
        else
          ASSERT_EQ(out[i], ref[i]) << "token " << t << " elem " << j << " rank " << rank;
      }
    }
  });
}

TEST(FusedNorm, ResidualRmsNormMatchesOnShm) {
  for (int n : {1, 4}) {
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    cfg.timeoutMs = 60000;
    checkNorm(n, cfg, false);
    checkNorm(n, cfg, true);
  }
}

TEST(FusedNorm, ResidualRmsNormMatchesOnSim) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.transport = "sim";
  cfg.topoFile = "hccs-8";
  cfg.timeoutMs = 60000;
  checkNorm(8, cfg, false);
  checkNorm(8, cfg, true);
}

// ---------------------------------------------------------------------------------------------
// Bad arguments: a status and a message naming the argument.

void noop(void*, size_t, size_t, strataDataType_t, void*) {}

TEST(FusedArgs, BadArgumentsAreClearErrors) {
  runRanks(1, "", [](int, strataComm_t comm) {
    std::vector<float> x(64);
    strataEpilogue_t epi{};
    epi.fn = noop;
    auto expectError = [&](const strataEpilogue_t* e, strataDataType_t t, const char* needle) {
      EXPECT_EQ(strataAllReduceFused(x.data(), x.data(), 64, t, strataSum, e, comm, nullptr),
                strataInvalidArgument)
          << needle;
      const std::string msg = strataGetLastError(comm);
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
      EXPECT_NE(msg.find("strataAllReduceFused"), std::string::npos) << msg;
    };
    expectError(nullptr, strataFloat32, "epi is NULL");
    strataEpilogue_t noFn = epi;
    noFn.fn = nullptr;
    expectError(&noFn, strataFloat32, "epi->fn is NULL");
    strataEpilogue_t badRow = epi;
    badRow.rowElems = 10;
    expectError(&badRow, strataFloat32, "epi->rowElems 10 does not divide count 64");
    expectError(&epi, static_cast<strataDataType_t>(99), "datatype 99");
    strataEpilogue_t q = epi;
    q.quantizeGather = 1;
    expectError(&q, strataFloat32, "needs epi->rowElems");
    q.rowElems = 16;
    expectError(&q, strataInt32, "cannot be quantised");
    q.quant = static_cast<strataQuant_t>(7);
    expectError(&q, strataFloat32, "epi->quant 7");
    EXPECT_EQ(strataAllReduceFused(x.data(), x.data() + 1, 64, strataFloat32, strataSum, &epi, comm,
                                   nullptr),
              strataInvalidArgument);
    EXPECT_NE(std::string(strataGetLastError(comm)).find("overlap"), std::string::npos);
    // A count past what one buffer may span is refused before anything touches memory.
    EXPECT_EQ(strataAllReduceFused(x.data(), x.data(), size_t{1} << 40, strataFloat32, strataSum,
                                   &epi, comm, nullptr),
              strataInvalidArgument);
    EXPECT_NE(std::string(strataGetLastError(comm)).find("count 1099511627776 is too large"),
              std::string::npos)
        << strataGetLastError(comm);
    EXPECT_EQ(strataAllReduceFused(x.data(), x.data(), 64, static_cast<strataDataType_t>(7),
                                   static_cast<strataRedOp_t>(9), &epi, comm, nullptr),
              strataInvalidArgument);
    // A zero count is valid and calls nothing.
    Recorder rec;
    strataEpilogue_t r{};
    r.fn = &Recorder::fn;
    r.user = &rec;
    EXPECT_EQ(
        strataAllReduceFused(nullptr, nullptr, 0, strataFloat32, strataSum, &r, comm, nullptr),
        strataSuccess);
    EXPECT_TRUE(rec.calls.empty());
  });
}

// A queued call runs its epilogue on the stream, with the epilogue struct copied at the call.
TEST(FusedStream, QueuedCallRunsTheEpilogue) {
  runRanks(2, "", [](int rank, strataComm_t comm) {
    strataStream_t stream = nullptr;
    ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
    std::vector<int32_t> x(100, rank + 1);
    Recorder rec;
    {
      strataEpilogue_t epi{};
      epi.fn = &Recorder::fn;
      epi.user = &rec;
      epi.rowElems = 10;
      ASSERT_EQ(strataAllReduceFused(x.data(), x.data(), x.size(), strataInt32, strataSum, &epi,
                                     comm, stream),
                strataSuccess);
    }
    ASSERT_EQ(strataStreamSynchronize(stream), strataSuccess) << strataGetLastError(comm);
    ASSERT_EQ(strataStreamDestroy(stream), strataSuccess);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(x[i], i % 3 == 0 ? -3 : 3) << i;
    EXPECT_FALSE(rec.calls.empty());
  });
}

}  // namespace
}  // namespace strata::test
