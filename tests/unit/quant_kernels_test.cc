// Block quantisation kernels: every instruction set gives the scalar table's bits, the error
// bound holds per element, int4 packs low nibble first, NaN and infinities come back where they
// went in, and a stream dequantised chunk by chunk equals the whole-stream result.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/quant_format.h"
#include "reduce/float_formats.h"
#include "reduce/kernel_table.h"
#include "reduce/quantize.h"

namespace strata {
namespace {

const strataDataType_t kSources[] = {strataFloat32, strataFloat16, strataBfloat16};
const strataQuant_t kQuants[] = {strataQuantInt8, strataQuantInt4, strataQuantFp8e4m3};

float widen(strataDataType_t t, const std::vector<uint8_t>& buf, size_t i) {
  switch (t) {
    case strataFloat32: {
      float f;
      std::memcpy(&f, buf.data() + i * 4, 4);
      return f;
    }
    case strataFloat16: {
      uint16_t h;
      std::memcpy(&h, buf.data() + i * 2, 2);
      return halfToFloat(h);
    }
    default: {
      uint16_t h;
      std::memcpy(&h, buf.data() + i * 2, 2);
      return bf16ToFloat(h);
    }
  }
}

void store(strataDataType_t t, std::vector<uint8_t>& buf, size_t i, float v) {
  switch (t) {
    case strataFloat32:
      std::memcpy(buf.data() + i * 4, &v, 4);
      break;
    case strataFloat16: {
      const uint16_t h = floatToHalf(v);
      std::memcpy(buf.data() + i * 2, &h, 2);
      break;
    }
    default: {
      const uint16_t h = floatToBf16(v);
      std::memcpy(buf.data() + i * 2, &h, 2);
      break;
    }
  }
}

size_t srcSize(strataDataType_t t) { return t == strataFloat32 ? 4 : 2; }

// Random values of varied magnitude per block, stored in t.
std::vector<uint8_t> randomInput(strataDataType_t t, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<uint8_t> buf(n * srcSize(t));
  for (size_t i = 0; i < n; ++i) {
    const float mag = std::ldexp(1.0f, static_cast<int>((i / 64) % 20) - 10);
    store(t, buf, i, u(rng) * mag);
  }
  return buf;
}

// Half an ulp of v in t: what the dequantised value's own rounding into t adds.
double halfUlp(strataDataType_t t, float v) {
  const int mant = t == strataFloat32 ? 23 : t == strataFloat16 ? 10 : 7;
  int e = 0;
  std::frexp(std::fabs(v), &e);
  const int minExp = t == strataFloat16 ? -13 : -125;
  return std::ldexp(1.0, std::max(e, minExp) - 1 - mant);
}

// The documented bound of one element of a block of scale s: int8 and int4 s/2; fp8 e4m3 its
// rounding after scaling, max(|x|/16, s * 2^-10); plus the output's rounding into its type.
double bound(strataQuant_t q, strataDataType_t t, float x, float xhat, float s) {
  double b = 0;
  if (q == strataQuantFp8e4m3)
    b = std::max(std::fabs(x) / 16.0, s * std::ldexp(1.0, -10));
  else
    b = s / 2.0;
  // The float32 arithmetic of the scaling adds a few ulps of x (2^-21 |x| covers it).
  return b + std::ldexp(std::fabs(x), -21) + halfUlp(t, xhat) + 1e-30;
}

struct Quantised {
  std::vector<uint8_t> values;
  std::vector<float> scales;
};

Quantised quantiseWith(const KernelTable& k, strataDataType_t t, strataQuant_t q,
                       const std::vector<uint8_t>& in, size_t block, size_t n) {
  Quantised r;
  r.values.assign(quantValueBytes(quantStorageType(q), n), 0xee);
  r.scales.assign(quantBlockCount(n, block), -7.0f);
  k.quantize[quantSourceIndex(t)][q](in.data(), r.values.data(), r.scales.data(), block, n);
  return r;
}

std::vector<uint8_t> dequantiseWith(const KernelTable& k, strataDataType_t t, strataQuant_t q,
                                    const Quantised& v, size_t block, size_t n) {
  std::vector<uint8_t> out(n * srcSize(t), 0xcc);
  k.dequantize[quantSourceIndex(t)][q](v.values.data(), v.scales.data(), block, 0, n, out.data());
  return out;
}

std::vector<ReduceIsa> availableIsas() {
  std::vector<ReduceIsa> isas = {ReduceIsa::kScalar};
  if (detectReduceIsa() >= ReduceIsa::kAvx2) isas.push_back(ReduceIsa::kAvx2);
  if (detectReduceIsa() >= ReduceIsa::kAvx512) isas.push_back(ReduceIsa::kAvx512);
  return isas;
}

std::string label(strataDataType_t t, strataQuant_t q, size_t block) {
  return std::string(t == strataFloat32   ? "float32"
                     : t == strataFloat16 ? "float16"
                                          : "bfloat16") +
         " -> " + quantName(q) + " block " + std::to_string(block);
}

TEST(QuantKernels, EveryIsaGivesTheScalarBits) {
  const size_t n = 4099;
  for (strataDataType_t t : kSources) {
    const std::vector<uint8_t> in = randomInput(t, n, 7);
    for (strataQuant_t q : kQuants) {
      for (size_t block : {size_t{1}, size_t{7}, size_t{128}, size_t{1000}, size_t{7168}}) {
        const Quantised ref = quantiseWith(kernelsScalar(), t, q, in, block, n);
        const std::vector<uint8_t> refOut = dequantiseWith(kernelsScalar(), t, q, ref, block, n);
        for (ReduceIsa isa : availableIsas()) {
          const KernelTable& k = kernelsFor(isa);
          const Quantised got = quantiseWith(k, t, q, in, block, n);
          ASSERT_EQ(got.values, ref.values) << label(t, q, block) << " on " << k.isaName;
          ASSERT_EQ(0, std::memcmp(got.scales.data(), ref.scales.data(), ref.scales.size() * 4))
              << label(t, q, block) << " on " << k.isaName;
          ASSERT_EQ(dequantiseWith(k, t, q, ref, block, n), refOut)
              << label(t, q, block) << " on " << k.isaName;
        }
      }
    }
  }
}

TEST(QuantKernels, ErrorBoundHoldsPerElement) {
  for (size_t n : {size_t{1}, size_t{7}, size_t{1000}, size_t{4099}}) {
    for (strataDataType_t t : kSources) {
      const std::vector<uint8_t> in = randomInput(t, n, static_cast<uint32_t>(n));
      for (strataQuant_t q : kQuants) {
        for (size_t block : {size_t{100}, size_t{128}}) {
          const Quantised v = quantiseWith(activeKernelTable(), t, q, in, block, n);
          const std::vector<uint8_t> out = dequantiseWith(activeKernelTable(), t, q, v, block, n);
          const float qmax = q == strataQuantInt8 ? 127.0f : q == strataQuantInt4 ? 7.0f : 448.0f;
          for (size_t b = 0; b * block < n; ++b) {
            float amax = 0;
            for (size_t i = b * block; i < std::min(n, (b + 1) * block); ++i)
              amax = std::max(amax, std::fabs(widen(t, in, i)));
            ASSERT_EQ(v.scales[b], amax / qmax) << label(t, q, block) << " block " << b;
            for (size_t i = b * block; i < std::min(n, (b + 1) * block); ++i) {
              const float x = widen(t, in, i), xh = widen(t, out, i);
              ASSERT_LE(std::fabs(static_cast<double>(x) - xh), bound(q, t, x, xh, v.scales[b]))
                  << label(t, q, block) << " n " << n << " element " << i << ": " << x << " -> "
                  << xh;
            }
          }
        }
      }
    }
  }
}

TEST(QuantKernels, Int4PacksTwoAByteLowNibbleFirst) {
  // Block of 3 (odd) so a block starts in the high nibble of a byte.
  const std::vector<float> x = {7, -7, 1, 0, 2, -2, 7};
  std::vector<uint8_t> in(x.size() * 4);
  std::memcpy(in.data(), x.data(), in.size());
  const Quantised v = quantiseWith(activeKernelTable(), strataFloat32, strataQuantInt4, in, 3, 7);
  // Codes: block 0 {7, -7, 1} scale 1; block 1 {0, 2, -2} scale 2/7 -> {0, 7, -7}; block 2 {7}.
  ASSERT_EQ(v.values.size(), 4u);
  EXPECT_EQ(v.values[0], 0x97);  // -7 = 0x9 high, 7 low
  EXPECT_EQ(v.values[1], 0x01);  // element 3 (0) high, element 2 (1) low
  EXPECT_EQ(v.values[2], 0x97);  // element 5 (-7) high, element 4 (7) low
  EXPECT_EQ(v.values[3], 0x07);  // element 6 (7) low, the high nibble left 0
}

TEST(QuantKernels, ChunkedDequantiseEqualsTheWholeStream) {
  const size_t n = 3001, block = 77;
  for (strataDataType_t t : kSources) {
    const std::vector<uint8_t> in = randomInput(t, n, 3);
    for (strataQuant_t q : kQuants) {
      const Quantised v = quantiseWith(activeKernelTable(), t, q, in, block, n);
      const std::vector<uint8_t> whole = dequantiseWith(activeKernelTable(), t, q, v, block, n);
      const strataDataType_t stored = quantStorageType(q);
      std::vector<uint8_t> parts(whole.size(), 0);
      // Chunks of bytes, as a transport hands them over: elements start at 2 x byte for int4.
      const size_t perByte = q == strataQuantInt4 ? 2 : 1;
      for (size_t byte = 0; byte < v.values.size(); byte += 250) {
        const size_t first = byte * perByte;
        const size_t m = std::min(size_t{250} * perByte, n - first);
        dequantizeRange(stored, v.values.data() + byte, v.scales.data(), block, first, m, t,
                        parts.data() + first * srcSize(t));
      }
      ASSERT_EQ(parts, whole) << label(t, q, block);
    }
  }
}

TEST(QuantKernels, NanAndInfinityComeBackWhereTheyWentIn) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const size_t n = 40, block = 16;
  for (strataDataType_t t : kSources) {
    for (strataQuant_t q : kQuants) {
      std::vector<uint8_t> in(n * srcSize(t));
      for (size_t i = 0; i < n; ++i) store(t, in, i, static_cast<float>(i % 13) - 6.0f);
      store(t, in, 3, nan);
      store(t, in, 5, inf);
      store(t, in, 9, -inf);
      store(t, in, 33, -inf);  // block 2, alone
      for (ReduceIsa isa : availableIsas()) {
        const KernelTable& k = kernelsFor(isa);
        const Quantised v = quantiseWith(k, t, q, in, block, n);
        const std::vector<uint8_t> out = dequantiseWith(k, t, q, v, block, n);
        const std::string what = label(t, q, block) + " on " + k.isaName;
        EXPECT_LT(v.scales[0], 0) << what << ": a block holding NaN or Inf is flagged";
        EXPECT_GT(v.scales[1], 0) << what << ": a finite block is not";
        EXPECT_LT(v.scales[2], 0) << what;
        EXPECT_TRUE(std::isfinite(v.scales[0]) && std::isfinite(v.scales[2])) << what;
        EXPECT_TRUE(std::isnan(widen(t, out, 3))) << what;
        EXPECT_EQ(widen(t, out, 5), inf) << what;
        EXPECT_EQ(widen(t, out, 9), -inf) << what;
        EXPECT_EQ(widen(t, out, 33), -inf) << what;
        const float flaggedMax = q == strataQuantInt8   ? 126.0f
                                 : q == strataQuantInt4 ? 6.0f
                                                        : 416.0f;
        for (size_t i = 0; i < n; ++i) {
          if (i == 3 || i == 5 || i == 9 || i == 33) continue;
          const float x = widen(t, in, i), xh = widen(t, out, i);
          const size_t b = i / block;
          float amax = 0;
          for (size_t j = b * block; j < std::min(n, (b + 1) * block); ++j) {
            const float y = std::fabs(widen(t, in, j));
            if (std::isfinite(y)) amax = std::max(amax, y);
          }
          const float s = std::fabs(v.scales[b]);
          if (v.scales[b] < 0) {
            EXPECT_FLOAT_EQ(s, amax / flaggedMax) << what << " block " << b;
          }
          ASSERT_TRUE(std::isfinite(xh)) << what << " element " << i;
          ASSERT_LE(std::fabs(static_cast<double>(x) - xh), bound(q, t, x, xh, s))
              << what << " element " << i;
        }
      }
    }
  }
}

TEST(QuantKernels, TinyAndZeroBlocksStayBounded) {
  const size_t n = 64, block = 32;
  std::vector<uint8_t> in(n * 4);
  for (size_t i = 0; i < 32; ++i) store(strataFloat32, in, i, 0.0f);
  for (size_t i = 32; i < n; ++i)
    store(strataFloat32, in, i, std::ldexp(static_cast<float>(i) - 40.0f, -110));
  for (strataQuant_t q : kQuants) {
    const Quantised v = quantiseWith(activeKernelTable(), strataFloat32, q, in, block, n);
    const std::vector<uint8_t> out =
        dequantiseWith(activeKernelTable(), strataFloat32, q, v, block, n);
    EXPECT_EQ(v.scales[0], 1.0f) << quantName(q) << ": an all-zero block has scale 1";
    for (size_t i = 0; i < n; ++i) {
      const float x = widen(strataFloat32, in, i), xh = widen(strataFloat32, out, i);
      const float s = v.scales[i / block];
      ASSERT_GT(s, 0) << quantName(q);
      ASSERT_LE(std::fabs(static_cast<double>(x) - xh),
                bound(q, strataFloat32, x, xh, s) + std::ldexp(1.0, -149))
          << quantName(q) << " element " << i;
    }
  }
}

}  // namespace
}  // namespace strata
