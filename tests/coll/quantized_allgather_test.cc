// strataAllGatherQuantized and its raw variants with ranks as threads, on shared memory and on
// the sim, with both algorithms: every element within the documented bound and bit-identical to
// the same kernels run locally; raw mode returns the senders' exact values and scales; NaN and
// infinities propagate; bad arguments are refused by name; the wire carries values plus scales.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "base/dtype.h"
#include "base/quant_format.h"
#include "coll/coll_harness.h"
#include "coll/float_elements.h"
#include "reduce/quantize.h"

namespace strata::test {
namespace {

constexpr size_t kLarge = (1u << 20) + 3;
const strataDataType_t kSources[] = {strataFloat32, strataFloat16, strataBfloat16};
const strataQuant_t kQuants[] = {strataQuantInt8, strataQuantInt4, strataQuantFp8e4m3};

// Rank r's input: values of a magnitude that changes every 50 elements, different per rank.
std::vector<uint8_t> inputOf(strataDataType_t t, int rank, size_t count) {
  std::vector<uint8_t> buf(count * dtypeSize(t));
  std::mt19937 rng(static_cast<uint32_t>(1000 + rank));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t i = 0; i < count; ++i)
    storeAt(t, buf.data(), i,
            u(rng) * std::ldexp(1.0f, static_cast<int>((i / 50 + rank) % 12) - 4));
  return buf;
}

struct Local {
  std::vector<uint8_t> values;
  std::vector<float> scales;
  std::vector<uint8_t> dequantised;
};

// The same kernels, run locally.
Local quantiseLocally(strataDataType_t t, strataQuant_t q, const std::vector<uint8_t>& in,
                      size_t block, size_t count) {
  Local l;
  const strataDataType_t stored = quantStorageType(q);
  l.values.assign(quantValueBytes(stored, count), 0);
  l.scales.assign(quantBlockCount(count, block), 0);
  quantizeBlocks(t, in.data(), stored, l.values.data(), l.scales.data(), block, count);
  l.dequantised.assign(count * dtypeSize(t), 0);
  dequantizeBlocks(stored, l.values.data(), l.scales.data(), block, t, l.dequantised.data(), count);
  return l;
}

double halfUlp(strataDataType_t t, float v) {
  const int mant = t == strataFloat32 ? 23 : t == strataFloat16 ? 10 : 7;
  int e = 0;
  std::frexp(std::fabs(v), &e);
  return std::ldexp(1.0, std::max(e, t == strataFloat16 ? -13 : -125) - 1 - mant);
}

// Elements of rank k's block that break the documented bound: int8 and int4 scale/2 (scale =
// max|x| / 127 or / 7), fp8 e4m3 max(|x|/16, scale x 2^-10), plus the output's own rounding.
size_t boundViolations(strataDataType_t t, strataQuant_t q, const std::vector<uint8_t>& in,
                       const void* out, size_t block, size_t count, std::string* first) {
  const float qmax = q == strataQuantInt8 ? 127.0f : q == strataQuantInt4 ? 7.0f : 448.0f;
  size_t bad = 0;
  for (size_t b = 0; b * block < count; ++b) {
    const size_t end = std::min(count, (b + 1) * block);
    float amax = 0;
    for (size_t i = b * block; i < end; ++i)
      amax = std::max(amax, std::fabs(widenAt(t, in.data(), i)));
    const double s = amax / qmax;
    for (size_t i = b * block; i < end; ++i) {
      const float x = widenAt(t, in.data(), i), xh = widenAt(t, out, i);
      const double lim =
          (q == strataQuantFp8e4m3 ? std::max(std::fabs(x) / 16.0, s / 1024.0) : s / 2) +
          std::ldexp(std::fabs(x), -21) + halfUlp(t, xh);
      if (!(std::fabs(static_cast<double>(x) - xh) <= lim)) {
        if (bad++ == 0 && first)
          *first = "element " + std::to_string(i) + ": " + std::to_string(x) + " -> " +
                   std::to_string(xh) + " (bound " + std::to_string(lim) + ")";
      }
    }
  }
  return bad;
}

std::string caseName(strataDataType_t t, strataQuant_t q, size_t count, size_t block,
                     bool inPlace) {
  return std::string(dtypeName(t)) + "->" + quantName(q) + " count " + std::to_string(count) +
         " block " + std::to_string(block) + (inPlace ? " in place" : " out of place");
}

using Param = std::tuple<bool /*sim*/, std::string /*algo*/, int /*nranks*/>;

class QuantizedAllGatherTest : public ::testing::TestWithParam<Param> {
 protected:
  void run(const std::function<void(int, strataComm_t)>& body) {
    const auto& [sim, algo, n] = GetParam();
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    tune_ = "allgatherquantized:@" + algo;
    cfg.algo = tune_.c_str();
    cfg.timeoutMs = 120000;
    cfg.transport = sim ? "sim" : nullptr;
    runRanksWith(n, cfg, body);
  }
  int nranks() const { return std::get<2>(GetParam()); }
  std::string tune_;
};

// Dequantised mode: every element of every rank's block within the bound, and bit-identical to
// the local quantise + dequantise of that rank's input (the fused receive changes nothing).
TEST_P(QuantizedAllGatherTest, DequantisedWithinBoundAndSameAsLocalKernels) {
  const int n = nranks();
  run([&](int rank, strataComm_t comm) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}}) {
      for (size_t block : {size_t{7}, size_t{100}, size_t{128}}) {
        for (strataDataType_t t : kSources) {
          for (strataQuant_t q : kQuants) {
            for (bool inPlace : {false, true}) {
              const size_t es = dtypeSize(t);
              std::vector<uint8_t> in = inputOf(t, rank, count);
              std::vector<uint8_t> out(count * es * static_cast<size_t>(n) + 1, 0xab);
              const void* send = in.data();
              if (inPlace) {
                std::memcpy(out.data() + static_cast<size_t>(rank) * count * es, in.data(),
                            in.size());
                send = out.data() + static_cast<size_t>(rank) * count * es;
              }
              const std::string what = caseName(t, q, count, block, inPlace);
              ASSERT_EQ(
                  strataAllGatherQuantized(send, out.data(), count, t, q, block, comm, nullptr),
                  strataSuccess)
                  << what << ": " << strataGetLastError(comm);
              for (int k = 0; k < n; ++k) {
                const std::vector<uint8_t> kin = inputOf(t, k, count);
                const Local l = quantiseLocally(t, q, kin, block, count);
                const uint8_t* got = out.data() + static_cast<size_t>(k) * count * es;
                ASSERT_EQ(0, std::memcmp(got, l.dequantised.data(), l.dequantised.size()))
                    << what << ": rank " << k << "'s block differs from the local kernels";
                std::string first;
                ASSERT_EQ(boundViolations(t, q, kin, got, block, count, &first), 0u)
                    << what << ": rank " << k << "'s block, " << first;
              }
              ASSERT_EQ(out.back(), 0xab) << what << ": wrote past the output";
            }
          }
        }
      }
    }
  });
}

// Raw mode: the senders' exact values and scales; then gathered again as a prequantised input
// (in place and not), they come back unchanged.
TEST_P(QuantizedAllGatherTest, RawModeReturnsTheSendersValuesAndScales) {
  const int n = nranks();
  const auto un = static_cast<size_t>(n);
  run([&](int rank, strataComm_t comm) {
    for (size_t count : {size_t{1}, size_t{7}, size_t{1000}}) {
      for (size_t block : {size_t{3}, size_t{100}}) {
        for (strataDataType_t t : kSources) {
          for (strataQuant_t q : kQuants) {
            const std::string what = caseName(t, q, count, block, false);
            const size_t vb = strataQuantValueBytes(q, count);
            const size_t nb = quantBlockCount(count, block);
            ASSERT_EQ(vb, q == strataQuantInt4 ? (count + 1) / 2 : count);
            const std::vector<uint8_t> in = inputOf(t, rank, count);
            std::vector<uint8_t> values(vb * un, 0xee);
            std::vector<float> scales(nb * un, -1.0f);
            ASSERT_EQ(strataAllGatherQuantizedRaw(in.data(), values.data(), scales.data(), count, t,
                                                  q, block, comm, nullptr),
                      strataSuccess)
                << what << ": " << strataGetLastError(comm);
            for (int k = 0; k < n; ++k) {
              const Local l = quantiseLocally(t, q, inputOf(t, k, count), block, count);
              const auto ku = static_cast<size_t>(k);
              ASSERT_EQ(0, std::memcmp(values.data() + ku * vb, l.values.data(), vb))
                  << what << ": rank " << k << "'s values";
              ASSERT_EQ(0, std::memcmp(scales.data() + ku * nb, l.scales.data(), nb * 4))
                  << what << ": rank " << k << "'s scales";
            }
            // Prequantised: our own part of the result as input, out of place then in place.
            const auto r = static_cast<size_t>(rank);
            std::vector<uint8_t> v2(vb * un, 0);
            std::vector<float> s2(nb * un, 0);
            ASSERT_EQ(strataAllGatherQuantizedRawPrequantized(
                          values.data() + r * vb, scales.data() + r * nb, v2.data(), s2.data(),
                          count, q, block, comm, nullptr),
                      strataSuccess)
                << what << ": " << strataGetLastError(comm);
            ASSERT_EQ(v2, values) << what << ": prequantised, out of place";
            ASSERT_EQ(0, std::memcmp(s2.data(), scales.data(), scales.size() * 4)) << what;
            std::vector<uint8_t> v3(vb * un, 0);
            std::vector<float> s3(nb * un, 0);
            std::memcpy(v3.data() + r * vb, values.data() + r * vb, vb);
            std::memcpy(s3.data() + r * nb, scales.data() + r * nb, nb * 4);
            ASSERT_EQ(strataAllGatherQuantizedRawPrequantized(
                          v3.data() + r * vb, s3.data() + r * nb, v3.data(), s3.data(), count, q,
                          block, comm, nullptr),
                      strataSuccess)
                << what << ": " << strataGetLastError(comm);
            ASSERT_EQ(v3, values) << what << ": prequantised, in place";
            ASSERT_EQ(0, std::memcmp(s3.data(), scales.data(), scales.size() * 4)) << what;
          }
        }
      }
    }
  });
}

// NaN and infinities on the last rank come out at their places on every rank; the rest of
// their block keeps its bound and other blocks are untouched.
TEST_P(QuantizedAllGatherTest, NanAndInfinityPropagateWithinTheirBlock) {
  const int n = nranks();
  const size_t count = 300, block = 64;
  const float inf = std::numeric_limits<float>::infinity();
  run([&](int rank, strataComm_t comm) {
    for (strataDataType_t t : kSources) {
      for (strataQuant_t q : kQuants) {
        auto inputFor = [&](int k) {
          std::vector<uint8_t> in = inputOf(t, k, count);
          if (k == n - 1) {
            storeAt(t, in.data(), 10, std::numeric_limits<float>::quiet_NaN());
            storeAt(t, in.data(), 70, inf);
            storeAt(t, in.data(), 299, -inf);
          }
          return in;
        };
        const std::vector<uint8_t> in = inputFor(rank);
        const size_t es = dtypeSize(t);
        std::vector<uint8_t> out(count * es * static_cast<size_t>(n), 0);
        ASSERT_EQ(
            strataAllGatherQuantized(in.data(), out.data(), count, t, q, block, comm, nullptr),
            strataSuccess)
            << strataGetLastError(comm);
        const std::string what = caseName(t, q, count, block, false);
        const uint8_t* last = out.data() + static_cast<size_t>(n - 1) * count * es;
        EXPECT_TRUE(std::isnan(widenAt(t, last, 10))) << what;
        EXPECT_EQ(widenAt(t, last, 70), inf) << what;
        EXPECT_EQ(widenAt(t, last, 299), -inf) << what;
        const std::vector<uint8_t> lastIn = inputFor(n - 1);
        const float flaggedMax = q == strataQuantInt8   ? 126.0f
                                 : q == strataQuantInt4 ? 6.0f
                                                        : 416.0f;
        for (size_t i = 0; i < count; ++i) {
          if (i == 10 || i == 70 || i == 299) continue;
          const float x = widenAt(t, lastIn.data(), i), xh = widenAt(t, last, i);
          ASSERT_TRUE(std::isfinite(xh)) << what << " element " << i;
          float amax = 0;
          for (size_t j = i / block * block; j < std::min(count, (i / block + 1) * block); ++j) {
            const float y = std::fabs(widenAt(t, lastIn.data(), j));
            if (std::isfinite(y)) amax = std::max(amax, y);
          }
          const double s = amax / flaggedMax;
          const double lim =
              (q == strataQuantFp8e4m3 ? std::max(std::fabs(x) / 16.0, s / 1024.0) : s / 2) +
              std::ldexp(std::fabs(x), -21) + halfUlp(t, xh);
          ASSERT_LE(std::fabs(static_cast<double>(x) - xh), lim)
              << what << " element " << i << ": " << x << " -> " << xh << ", scale " << s;
        }
      }
    }
  });
}

// Counted by the transport: each rank sends its packed values and scales to each peer, not
// the source type's bytes.
TEST_P(QuantizedAllGatherTest, SendsValuesPlusScales) {
  const int n = nranks();
  const size_t count = 7168 * 4 + 5, block = 7168;
  run([&](int rank, strataComm_t comm) {
    for (strataQuant_t q : kQuants) {
      const std::vector<uint8_t> in = inputOf(strataBfloat16, rank, count);
      std::vector<uint8_t> out(count * 2 * static_cast<size_t>(n));
      ASSERT_EQ(strataAllGatherQuantized(in.data(), out.data(), count, strataBfloat16, q, block,
                                         comm, nullptr),
                strataSuccess)
          << strataGetLastError(comm);
      strataStats_t st{};
      ASSERT_EQ(strataCommGetStats(comm, &st), strataSuccess);
      uint64_t sent = 0;
      for (int l = 0; l < STRATA_MAX_LEVELS; ++l) sent += st.last.bytesSent[l];
      const uint64_t perPeer = strataQuantValueBytes(q, count) + quantBlockCount(count, block) * 4;
      EXPECT_EQ(sent, perPeer * static_cast<uint64_t>(n - 1)) << quantName(q);
      EXPECT_EQ(st.last.callBytes, count * 2 * static_cast<uint64_t>(n))
          << "callBytes counts the source type, as a plain AllGather of it";
    }
  });
}

std::string paramName(const ::testing::TestParamInfo<Param>& info) {
  return std::string(std::get<0>(info.param) ? "sim_" : "shm_") + std::get<1>(info.param) + "_r" +
         std::to_string(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Ranks, QuantizedAllGatherTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Values("mesh", "ring"),
                                            ::testing::Values(1, 2, 3, 4, 7, 8)),
                         paramName);

// (1 << 20) + 3 elements, not a multiple of the block: every source type on 2 and 8 ranks, one
// format each so the run stays short; rank 0 checks every element of every block.
class QuantizedAllGatherLarge : public ::testing::TestWithParam<std::tuple<bool, int>> {};

TEST_P(QuantizedAllGatherLarge, LargeCountWithinBound) {
  const bool sim = std::get<0>(GetParam());
  const int n = std::get<1>(GetParam());
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 120000;
  cfg.transport = sim ? "sim" : nullptr;
  const size_t block = 7168;
  runRanksWith(n, cfg, [&](int rank, strataComm_t comm) {
    for (size_t i = 0; i < 3; ++i) {
      const strataDataType_t t = kSources[i];
      const strataQuant_t q = kQuants[(i + static_cast<size_t>(sim)) % 3];
      const size_t es = dtypeSize(t);
      const std::vector<uint8_t> in = inputOf(t, rank, kLarge);
      std::vector<uint8_t> out(kLarge * es * static_cast<size_t>(n));
      ASSERT_EQ(strataAllGatherQuantized(in.data(), out.data(), kLarge, t, q, block, comm, nullptr),
                strataSuccess)
          << strataGetLastError(comm);
      if (rank != 0) continue;
      for (int k = 0; k < n; ++k) {
        const std::vector<uint8_t> kin = inputOf(t, k, kLarge);
        const Local l = quantiseLocally(t, q, kin, block, kLarge);
        const uint8_t* got = out.data() + static_cast<size_t>(k) * kLarge * es;
        const std::string what = caseName(t, q, kLarge, block, false);
        ASSERT_EQ(0, std::memcmp(got, l.dequantised.data(), l.dequantised.size())) << what;
        std::string first;
        ASSERT_EQ(boundViolations(t, q, kin, got, block, kLarge, &first), 0u)
            << what << ", " << first;
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, QuantizedAllGatherLarge,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(2, 8)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "sim" : "shm") + "_r" +
                                  std::to_string(std::get<1>(info.param));
                         });

// Bad arguments: refused with strataInvalidArgument and a message naming the argument.
TEST(QuantizedAllGatherArgs, BadArgumentsAreRefusedByName) {
  runRanks(1, "", [](int, strataComm_t comm) {
    std::vector<float> in(64, 1.0f), out(64);
    std::vector<uint8_t> values(64);
    std::vector<float> scales(8);
    auto expectRefused = [&](strataResult_t r, const char* word) {
      EXPECT_EQ(r, strataInvalidArgument) << word;
      EXPECT_NE(std::string(strataGetLastError(comm)).find(word), std::string::npos)
          << "message: " << strataGetLastError(comm) << " (expected to name " << word << ")";
    };
    expectRefused(strataAllGatherQuantized(in.data(), out.data(), 64, strataFloat32,
                                           strataQuantInt8, 0, comm, nullptr),
                  "blockElems");
    expectRefused(strataAllGatherQuantized(in.data(), out.data(), 16, strataInt32, strataQuantInt8,
                                           8, comm, nullptr),
                  "srcType");
    expectRefused(strataAllGatherQuantized(in.data(), out.data(), 16, strataFloat64,
                                           strataQuantInt8, 8, comm, nullptr),
                  "srcType");
    expectRefused(strataAllGatherQuantized(in.data(), out.data(), 16, strataFloat32,
                                           static_cast<strataQuant_t>(7), 8, comm, nullptr),
                  "quant");
    expectRefused(strataAllGatherQuantized(nullptr, out.data(), 16, strataFloat32, strataQuantInt8,
                                           8, comm, nullptr),
                  "sendbuff");
    expectRefused(strataAllGatherQuantized(in.data() + 1, in.data(), 16, strataFloat32,
                                           strataQuantInt8, 8, comm, nullptr),
                  "overlaps");
    expectRefused(strataAllGatherQuantizedRaw(in.data(), values.data(), nullptr, 16, strataFloat32,
                                              strataQuantInt8, 8, comm, nullptr),
                  "recvScales");
    expectRefused(strataAllGatherQuantizedRaw(in.data(), values.data(), scales.data(), 16,
                                              strataFloat32, strataQuantInt4, 0, comm, nullptr),
                  "blockElems");
    expectRefused(strataAllGatherQuantizedRaw(in.data(), values.data(), scales.data(), 16,
                                              strataUint8, strataQuantInt8, 8, comm, nullptr),
                  "srcType");
    expectRefused(strataAllGatherQuantizedRaw(in.data(), in.data(), scales.data(), 16,
                                              strataFloat32, strataQuantInt8, 8, comm, nullptr),
                  "overlaps");
    expectRefused(strataAllGatherQuantizedRawPrequantized(values.data(), nullptr,
                                                          values.data() + 32, scales.data(), 16,
                                                          strataQuantInt8, 8, comm, nullptr),
                  "sendScales");
    expectRefused(
        strataAllGatherQuantizedRawPrequantized(values.data(), scales.data(), values.data() + 32,
                                                nullptr, 16, strataQuantInt8, 8, comm, nullptr),
        "recvScales");
    expectRefused(strataAllGatherQuantizedRawPrequantized(values.data(), scales.data() + 4,
                                                          values.data(), scales.data(), 16,
                                                          strataQuantInt8, 8, comm, nullptr),
                  "sendScales");
    expectRefused(strataAllGatherQuantizedRawPrequantized(values.data(), scales.data(),
                                                          values.data() + 32, scales.data() + 4, 16,
                                                          strataQuantFp8e4m3, 0, comm, nullptr),
                  "blockElems");
    EXPECT_EQ(strataQuantValueBytes(strataQuantInt4, 7), 4u);
    EXPECT_EQ(strataQuantValueBytes(static_cast<strataQuant_t>(9), 7), 0u);
    // A count of 0 moves nothing: NULL buffers are fine, as for every collective.
    EXPECT_EQ(strataAllGatherQuantizedRaw(nullptr, nullptr, nullptr, 0, strataFloat32,
                                          strataQuantInt8, 8, comm, nullptr),
              strataSuccess)
        << strataGetLastError(comm);
  });
}

}  // namespace
}  // namespace strata::test
