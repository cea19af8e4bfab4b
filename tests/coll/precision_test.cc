// Low-precision reductions at their own width: the bytes on the wire (statistics) and the
// rounding error against a float64 reference, with and without float32 staging.
#include <cmath>
#include <cstddef>
#include <random>

#include "coll/coll_harness.h"

namespace strata::test {
namespace {

struct WireCase {
  const char* algo;
  bool sim;
};

uint64_t bytesSent(strataComm_t comm) {
  strataStats_t s{};
  EXPECT_EQ(strataCommGetStats(comm, &s), strataSuccess);
  uint64_t total = 0;
  for (int l = 0; l < STRATA_MAX_LEVELS; ++l) total += s.last.bytesSent[l];
  return total;
}

// Bytes one AllReduce of `count` elements of t sends from this rank.
std::vector<uint64_t> allReduceBytes(const WireCase& c, int n, strataDataType_t t, size_t count,
                                     const char* precision) {
  std::vector<uint64_t> out(static_cast<size_t>(n));
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  const std::string tune = std::string("allreduce:@") + c.algo;
  cfg.algo = tune.c_str();
  cfg.timeoutMs = 60000;
  cfg.transport = c.sim ? "sim" : nullptr;
  cfg.reducePrecision = precision;
  runRanksWith(n, cfg, [&](int rank, strataComm_t comm) {
    std::vector<char> buf(count * dtypeSize(t), 0);
    ASSERT_EQ(strataAllReduce(buf.data(), buf.data(), count, t, strataSum, comm, nullptr),
              strataSuccess)
        << strataGetLastError(comm);
    out[static_cast<size_t>(rank)] = bytesSent(comm);
  });
  return out;
}

class WireBytesTest : public ::testing::TestWithParam<WireCase> {};

TEST_P(WireBytesTest, LowPrecisionSendsItsOwnWidth) {
  const int n = 4;
  const size_t count = 100000;
  const auto f32 = allReduceBytes(GetParam(), n, strataFloat32, count, nullptr);
  const auto bf16 = allReduceBytes(GetParam(), n, strataBfloat16, count, nullptr);
  const auto fp8 = allReduceBytes(GetParam(), n, strataFloat8e4m3, count, nullptr);
  const auto staged = allReduceBytes(GetParam(), n, strataBfloat16, count, "float32");
  for (int r = 0; r < n; ++r) {
    const size_t i = static_cast<size_t>(r);
    ASSERT_GT(f32[i], 0u);
    EXPECT_EQ(2 * bf16[i], f32[i]) << "rank " << r;
    EXPECT_EQ(4 * fp8[i], f32[i]) << "rank " << r;
    EXPECT_EQ(staged[i], f32[i]) << "rank " << r << ": float32 staging sends float32";
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, WireBytesTest,
                         ::testing::Values(WireCase{"ring", false}, WireCase{"oneshot", false},
                                           WireCase{"ringpipe", false}, WireCase{"ring", true},
                                           WireCase{"oneshot", true}),
                         [](const ::testing::TestParamInfo<WireCase>& i) {
                           return std::string(i.param.algo) + (i.param.sim ? "_sim" : "_shm");
                         });

float bf16Round(double x) {
  float f = static_cast<float>(x);
  uint16_t b;
  fromFloat32(strataBfloat16, &f, &b, 1);
  toFloat32(strataBfloat16, &b, &f, 1);
  return f;
}

// A bf16 ring rounds each partial sum once per hop: with n ranks at most n-1 roundings, each
// within half a bf16 ulp of a partial sum, so |result - exact| <= (n-1) * 2^-8 * sum |x_i|. The
// float32-staged variant rounds once: |result - exact| <= 2^-8 * |exact| plus float32's own
// accumulation error (n * 2^-24 * sum |x_i|).
TEST(Precision, Bf16RingStaysWithinItsRoundingBound) {
  const int n = 7;
  const size_t count = 4096;
  std::vector<std::vector<uint16_t>> in(n, std::vector<uint16_t>(count));
  std::vector<double> exact(count, 0), absSum(count, 0);
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  for (int r = 0; r < n; ++r)
    for (size_t i = 0; i < count; ++i) {
      float x = dist(rng);
      fromFloat32(strataBfloat16, &x, &in[static_cast<size_t>(r)][i], 1);
      toFloat32(strataBfloat16, &in[static_cast<size_t>(r)][i], &x, 1);
      exact[i] += x;
      absSum[i] += std::fabs(x);
    }
  for (const char* precision : {"wire", "float32"}) {
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    cfg.algo = "allreduce:@ring";
    cfg.reducePrecision = precision;
    cfg.timeoutMs = 60000;
    const bool staged = std::string(precision) == "float32";
    size_t roundedOnce = 0;
    runRanksWith(n, cfg, [&](int rank, strataComm_t comm) {
      std::vector<uint16_t> out(count);
      ASSERT_EQ(strataAllReduce(in[static_cast<size_t>(rank)].data(), out.data(), count,
                                strataBfloat16, strataSum, comm, nullptr),
                strataSuccess);
      size_t once = 0;
      for (size_t i = 0; i < count; ++i) {
        float got;
        toFloat32(strataBfloat16, &out[i], &got, 1);
        const double bound = staged ? std::ldexp(std::fabs(exact[i]), -8) +
                                          n * std::ldexp(absSum[i], -24)
                                    : (n - 1) * std::ldexp(absSum[i], -8);
        ASSERT_LE(std::fabs(got - exact[i]), bound)
            << precision << " rank " << rank << " element " << i << " exact " << exact[i];
        once += got == bf16Round(exact[i]) ? 1 : 0;
      }
      if (rank == 0) roundedOnce = once;
    });
    if (staged) {
      EXPECT_GT(roundedOnce, count * 99 / 100) << "staging rounds once";
    }
  }
}

TEST(Precision, BadPrecisionNameIsRefused) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.reducePrecision = "double";
  std::vector<strataComm_t> comms(2);
  EXPECT_EQ(strataCommInitAll(comms.data(), 2, &cfg), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("reducePrecision"), std::string::npos)
      << strataGetLastError(nullptr);
}

// A program built against version 1 of strataConfig_t (which ended at `algo`) still initialises:
// the fields it does not have take their defaults.
TEST(Precision, ConfigVersion1IsStillAccepted) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.version = 1;
  cfg.size = offsetof(strataConfig_t, reducePrecision);
  cfg.reducePrecision = "not read";
  std::vector<strataComm_t> comms(2);
  ASSERT_EQ(strataCommInitAll(comms.data(), 2, &cfg), strataSuccess)
      << strataGetLastError(nullptr);
  for (strataComm_t c : comms) EXPECT_EQ(strataCommDestroy(c), strataSuccess);
}

}  // namespace
}  // namespace strata::test
