// Reduction and conversion kernels: the narrow float formats against their definitions, every
// dtype x op x ISA variant against a scalar reference, bit for bit.
#include "reduce/reduce.h"

#include <cpuid.h>
#include <gtest/gtest.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "reduce/float_formats.h"
#include "reduce/kernel_table.h"

namespace strata {

// Names ISA parameters in gtest messages.
void PrintTo(ReduceIsa isa, std::ostream* os) { *os << reduceIsaName(isa); }

namespace {

// ---------------------------------------------------------------------------------------------
// Narrow formats, described independently of float_formats.h.

struct FormatSpec {
  const char* name;
  int expBits;
  int mantBits;
  bool finiteOnly;   // E4M3FN: no inf, only S.1111.111 is NaN
  bool saturates;    // finite overflow -> max finite
  uint32_t maxCode;  // largest finite positive code
  float (*widen)(uint32_t);
  uint32_t (*narrow)(float);
};

int bitsOf(const FormatSpec& f) { return 1 + f.expBits + f.mantBits; }

// The value of a code, straight from the definition.
double decode(const FormatSpec& f, uint32_t code) {
  int bias = (1 << (f.expBits - 1)) - 1;
  uint32_t sign = (code >> (f.expBits + f.mantBits)) & 1;
  uint32_t e = (code >> f.mantBits) & ((1u << f.expBits) - 1);
  uint32_t m = code & ((1u << f.mantBits) - 1);
  uint32_t eMax = (1u << f.expBits) - 1;
  double v;
  if (f.finiteOnly && e == eMax && m == (1u << f.mantBits) - 1) {
    v = std::numeric_limits<double>::quiet_NaN();
  } else if (!f.finiteOnly && e == eMax) {
    v = m != 0 ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (e == 0) {
    v = std::ldexp(static_cast<double>(m), 1 - bias - f.mantBits);
  } else {
    v = std::ldexp(static_cast<double>(m + (1u << f.mantBits)),
                   static_cast<int>(e) - bias - f.mantBits);
  }
  return sign ? -v : v;
}

float widenHalf(uint32_t c) { return halfToFloat(static_cast<uint16_t>(c)); }
float widenBf16(uint32_t c) { return bf16ToFloat(static_cast<uint16_t>(c)); }
float widenE4m3(uint32_t c) { return fp8e4m3ToFloat(static_cast<uint8_t>(c)); }
float widenE5m2(uint32_t c) { return fp8e5m2ToFloat(static_cast<uint8_t>(c)); }
uint32_t narrowHalf(float x) { return floatToHalf(x); }
uint32_t narrowBf16(float x) { return floatToBf16(x); }
uint32_t narrowE4m3(float x) { return floatToFp8e4m3(x); }
uint32_t narrowE5m2(float x) { return floatToFp8e5m2(x); }

const FormatSpec kHalf = {"fp16", 5, 10, false, false, 0x7bff, widenHalf, narrowHalf};
const FormatSpec kBf16 = {"bf16", 8, 7, false, false, 0x7f7f, widenBf16, narrowBf16};
const FormatSpec kE4m3 = {"e4m3", 4, 3, true, true, 0x7e, widenE4m3, narrowE4m3};
const FormatSpec kE5m2 = {"e5m2", 5, 2, false, true, 0x7b, widenE5m2, narrowE5m2};
const FormatSpec* const kFormats[] = {&kHalf, &kBf16, &kE4m3, &kE5m2};

// Round-to-nearest-even by search over every finite code, with the overflow policy: IEEE
// formats round to inf past max + ulp/2 (the tie goes to inf, whose code is even); saturating
// formats clamp finite values to max; e4m3 clamps inf too.
uint32_t referenceNarrow(const FormatSpec& f, float x) {
  uint32_t sign = std::signbit(x) ? 1u << (bitsOf(f) - 1) : 0;
  uint32_t infCode = ((1u << f.expBits) - 1) << f.mantBits;
  if (std::isinf(x)) return sign | (f.finiteOnly ? f.maxCode : infCode);
  double a = std::fabs(static_cast<double>(x));
  double maxVal = decode(f, f.maxCode);
  if (f.saturates && a > maxVal) return sign | f.maxCode;
  // Candidates are the finite codes and, for IEEE formats, the inf code standing for
  // 2^(emax+1) = max + ulp(max). Codes increase with value.
  uint32_t top = f.saturates ? f.maxCode : infCode;
  auto value = [&](uint32_t c) {
    return c <= f.maxCode ? decode(f, c) : 2 * maxVal - decode(f, f.maxCode - 1);
  };
  if (a >= value(top)) return sign | top;
  uint32_t lo = 0, hi = top;  // value(lo) <= a < value(hi)
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    (value(mid) <= a ? lo : hi) = mid;
  }
  double below = a - value(lo), above = value(hi) - a;
  uint32_t pick = below < above ? lo : above < below ? hi : ((lo & 1) ? hi : lo);
  return sign | pick;
}

// Floats worth narrowing: every code's value, exact midpoints between neighbours, one float ulp
// either side of those, specials, float32 subnormals and random bit patterns.
std::vector<float> probeFloats(const FormatSpec& f, size_t randomCount) {
  using Lim = std::numeric_limits<float>;
  std::vector<float> v = {0.0f,       -0.0f,      Lim::infinity(),   -Lim::infinity(),
                          Lim::max(), Lim::min(), Lim::denorm_min(), 1e-40f,
                          -1e-40f};
  uint32_t stride = f.maxCode > 0x1000 ? 7 : 1;
  for (uint32_t c = 0; c <= f.maxCode; c += stride) {
    double here = decode(f, c);
    double there = c < f.maxCode ? decode(f, c + 1) : here * 1.25;
    for (double d : {here, (here + there) / 2}) {
      float x = static_cast<float>(d);
      for (float y : {x, std::nextafter(x, 0.0f), std::nextafter(x, 1e30f)}) {
        v.push_back(y);
        v.push_back(-y);
      }
    }
  }
  std::mt19937 rng(1234);
  for (size_t i = 0; i < randomCount; ++i) {
    uint32_t u = rng();
    v.push_back(floatFromBits(u));
  }
  return v;
}

TEST(FloatFormats, WidenMatchesDefinitionForEveryCode) {
  for (const FormatSpec* f : kFormats) {
    SCOPED_TRACE(f->name);
    for (uint32_t c = 0; c < (1u << bitsOf(*f)); ++c) {
      double want = decode(*f, c);
      float got = f->widen(c);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << std::hex << c;
      } else {
        EXPECT_EQ(static_cast<double>(got), want) << std::hex << c;
        EXPECT_EQ(std::signbit(got), std::signbit(want)) << std::hex << c;
      }
    }
  }
}

TEST(FloatFormats, RoundTripsEveryCode) {
  for (const FormatSpec* f : kFormats) {
    SCOPED_TRACE(f->name);
    uint32_t signBit = 1u << (bitsOf(*f) - 1);
    for (uint32_t c = 0; c < (1u << bitsOf(*f)); ++c) {
      uint32_t back = f->narrow(f->widen(c));
      if (std::isnan(decode(*f, c))) {
        EXPECT_TRUE(std::isnan(f->widen(back))) << std::hex << c;
        EXPECT_EQ(back & signBit, c & signBit) << std::hex << c;
      } else {
        EXPECT_EQ(back, c) << std::hex << c;
      }
    }
  }
}

TEST(FloatFormats, NarrowMatchesNearestEvenSearch) {
  for (const FormatSpec* f : kFormats) {
    SCOPED_TRACE(f->name);
    for (float x : probeFloats(*f, 20000)) {
      uint32_t got = f->narrow(x);
      if (std::isnan(x)) {
        EXPECT_TRUE(std::isnan(f->widen(got))) << x;
        continue;
      }
      EXPECT_EQ(got, referenceNarrow(*f, x)) << std::hexfloat << x;
    }
  }
}

TEST(FloatFormats, TiesGoToEven) {
  // Halfway between two codes: the even mantissa wins, in both directions.
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(floatToHalf(1.0f + 3 * 0x1p-11f), 0x3c02);
  EXPECT_EQ(floatToHalf(-(1.0f + 3 * 0x1p-11f)), 0xbc02);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);  // tie at the top: to inf
  EXPECT_EQ(floatToHalf(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(floatToBf16(1.0f + 0x1p-8f), 0x3f80);
  EXPECT_EQ(floatToBf16(1.0f + 3 * 0x1p-8f), 0x3f82);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7f80);  // overflows to inf
  EXPECT_EQ(floatToFp8e4m3(1.0f + 1.0f / 16), 0x38);
  EXPECT_EQ(floatToFp8e4m3(1.0f + 3.0f / 16), 0x3a);
  EXPECT_EQ(floatToFp8e4m3(std::nextafter(1.0f + 1.0f / 16, 2.0f)), 0x39);
  EXPECT_EQ(floatToFp8e5m2(1.0f + 1.0f / 8), 0x3c);
  EXPECT_EQ(floatToFp8e5m2(1.0f + 3.0f / 8), 0x3e);
  EXPECT_EQ(floatToFp8e5m2(-(1.0f + 3.0f / 8)), 0xbe);
}

TEST(FloatFormats, Subnormals) {
  EXPECT_EQ(halfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(halfToFloat(0x03ff), 1023 * 0x1p-24f);
  EXPECT_EQ(halfToFloat(0x8001), -0x1p-24f);
  EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000);      // tie with zero: to even (zero)
  EXPECT_EQ(floatToHalf(3 * 0x1p-25f), 0x0002);  // tie between 1 and 2: to 2
  EXPECT_EQ(floatToHalf(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(floatToHalf(1023.5f * 0x1p-24f), 0x0400);  // rounds up into the smallest normal
  EXPECT_EQ(floatToHalf(1e-40f), 0x0000);              // float32 subnormal
  EXPECT_EQ(bf16ToFloat(0x0001), 0x1p-133f);
  EXPECT_EQ(floatToBf16(0x1p-133f), 0x0001);
  EXPECT_EQ(fp8e4m3ToFloat(0x01), 0x1p-9f);
  EXPECT_EQ(fp8e4m3ToFloat(0x07), 7 * 0x1p-9f);
  EXPECT_EQ(floatToFp8e4m3(0x1p-10f), 0x00);
  EXPECT_EQ(floatToFp8e4m3(3 * 0x1p-10f), 0x02);
  EXPECT_EQ(floatToFp8e4m3(-5 * 0x1p-9f), 0x85);
  EXPECT_EQ(fp8e5m2ToFloat(0x01), 0x1p-16f);
  EXPECT_EQ(fp8e5m2ToFloat(0x03), 3 * 0x1p-16f);
  EXPECT_EQ(floatToFp8e5m2(0x1p-17f), 0x00);
  EXPECT_EQ(floatToFp8e5m2(3 * 0x1p-17f), 0x02);
}

TEST(FloatFormats, Fp8SaturatesAndKeepsNan) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(fp8e4m3ToFloat(0x7e), 448.0f);
  for (float x : {449.0f, 464.0f, 480.0f, 1e6f, std::numeric_limits<float>::max(), inf}) {
    EXPECT_EQ(floatToFp8e4m3(x), 0x7e) << x;
    EXPECT_EQ(floatToFp8e4m3(-x), 0xfe) << x;
  }
  EXPECT_EQ(fp8e5m2ToFloat(0x7b), 57344.0f);
  for (float x : {57345.0f, 61440.0f, 65536.0f, 1e9f, std::numeric_limits<float>::max()}) {
    EXPECT_EQ(floatToFp8e5m2(x), 0x7b) << x;
    EXPECT_EQ(floatToFp8e5m2(-x), 0xfb) << x;
  }
  EXPECT_EQ(floatToFp8e5m2(inf), 0x7c);
  EXPECT_EQ(floatToFp8e5m2(-inf), 0xfc);
  EXPECT_EQ(floatToHalf(1e6f), 0x7c00);
  EXPECT_EQ(floatToFp8e4m3(nan), 0x7f);
  EXPECT_EQ(floatToFp8e4m3(-nan), 0xff);
  EXPECT_TRUE(std::isnan(fp8e5m2ToFloat(floatToFp8e5m2(nan))));
  EXPECT_TRUE(std::isnan(fp8e4m3ToFloat(0xff)));
  EXPECT_EQ(fp8e4m3ToFloat(0x7f - 8), 240.0f);  // S.1110.111: ordinary normal below NaN's row
  EXPECT_EQ(fp8e4m3ToFloat(0x78), 256.0f);      // S.1111.000: ordinary normal
}

// The scalar fp16 functions give the same bits as F16C, NaN payloads included, so vector
// kernels and their scalar tails agree.
__attribute__((target("f16c"))) float hardwareHalfToFloat(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) uint16_t hardwareFloatToHalf(float f) {
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

bool cpuHasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

TEST(FloatFormats, HalfMatchesF16cBitForBit) {
  if (!cpuHasF16c()) GTEST_SKIP() << "no F16C";
  for (uint32_t c = 0; c < 0x10000; ++c)
    ASSERT_EQ(bitsOfFloat(halfToFloat(c)), bitsOfFloat(hardwareHalfToFloat(c))) << std::hex << c;
  std::vector<float> probes = probeFloats(kHalf, 1 << 20);
  for (uint32_t u : {0x7f800001u, 0x7fa12345u, 0xff812345u, 0x7fffffffu, 0x7f802000u})
    probes.push_back(floatFromBits(u));
  for (float x : probes)
    ASSERT_EQ(floatToHalf(x), hardwareFloatToHalf(x)) << std::hex << bitsOfFloat(x);
}

// ---------------------------------------------------------------------------------------------
// Kernels, for every ISA variant this CPU runs.

constexpr strataDataType_t kAllTypes[] = {strataInt8,     strataUint8,      strataInt32,
                                          strataUint32,   strataInt64,      strataUint64,
                                          strataFloat16,  strataFloat32,    strataFloat64,
                                          strataBfloat16, strataFloat8e4m3, strataFloat8e5m2};
constexpr strataRedOp_t kKernelOpsList[] = {strataSum, strataProd, strataMax, strataMin};
constexpr size_t kLengths[] = {0, 1, 7, 64, 1000, 4099};

const FormatSpec* formatOf(strataDataType_t t) {
  switch (t) {
    case strataFloat16:
      return &kHalf;
    case strataBfloat16:
      return &kBf16;
    case strataFloat8e4m3:
      return &kE4m3;
    case strataFloat8e5m2:
      return &kE5m2;
    default:
      return nullptr;
  }
}

template <class T>
T applyOp(strataRedOp_t op, T a, T b) {
  if constexpr (std::is_integral_v<T>) {  // wrap modulo 2^bits
    uint64_t ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
    if (op == strataSum) return static_cast<T>(ua + ub);
    if (op == strataProd) return static_cast<T>(ua * ub);
  } else {
    if (op == strataSum) return a + b;
    if (op == strataProd) return a * b;
  }
  return op == strataMax ? (a > b ? a : b) : (a < b ? a : b);
}

template <class T>
void referenceNative(strataRedOp_t op, uint8_t* dst, const uint8_t* a, const uint8_t* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    T x, y;
    std::memcpy(&x, a + i * sizeof(T), sizeof(T));
    std::memcpy(&y, b + i * sizeof(T), sizeof(T));
    T r = applyOp(op, x, y);
    std::memcpy(dst + i * sizeof(T), &r, sizeof(T));
  }
}

void referenceReduce(strataDataType_t t, strataRedOp_t op, uint8_t* dst, const uint8_t* a,
                     const uint8_t* b, size_t n) {
  if (const FormatSpec* f = formatOf(t)) {
    size_t es = dtypeSize(t);
    for (size_t i = 0; i < n; ++i) {
      uint32_t x = 0, y = 0;
      std::memcpy(&x, a + i * es, es);
      std::memcpy(&y, b + i * es, es);
      uint32_t r = f->narrow(applyOp(op, f->widen(x), f->widen(y)));
      std::memcpy(dst + i * es, &r, es);
    }
    return;
  }
  switch (t) {
    case strataInt8:
      return referenceNative<int8_t>(op, dst, a, b, n);
    case strataUint8:
      return referenceNative<uint8_t>(op, dst, a, b, n);
    case strataInt32:
      return referenceNative<int32_t>(op, dst, a, b, n);
    case strataUint32:
      return referenceNative<uint32_t>(op, dst, a, b, n);
    case strataInt64:
      return referenceNative<int64_t>(op, dst, a, b, n);
    case strataUint64:
      return referenceNative<uint64_t>(op, dst, a, b, n);
    case strataFloat32:
      return referenceNative<float>(op, dst, a, b, n);
    case strataFloat64:
      return referenceNative<double>(op, dst, a, b, n);
    default:
      FAIL() << "unexpected dtype " << t;
  }
}

bool isNanElement(strataDataType_t t, const uint8_t* p) {
  if (const FormatSpec* f = formatOf(t)) {
    uint32_t c = 0;
    std::memcpy(&c, p, dtypeSize(t));
    return std::isnan(f->widen(c));
  }
  if (t == strataFloat32) {
    float f;
    std::memcpy(&f, p, sizeof f);
    return std::isnan(f);
  }
  if (t == strataFloat64) {
    double d;
    std::memcpy(&d, p, sizeof d);
    return std::isnan(d);
  }
  return false;
}

// Equal bits, or NaN on both sides (a NaN's payload depends on operand order).
::testing::AssertionResult sameElements(strataDataType_t t, const std::vector<uint8_t>& want,
                                        const std::vector<uint8_t>& got, size_t n) {
  size_t es = dtypeSize(t);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* w = want.data() + i * es;
    const uint8_t* g = got.data() + i * es;
    if (std::memcmp(w, g, es) == 0) continue;
    if (isNanElement(t, w) && isNanElement(t, g)) continue;
    std::string hw, hg;
    char buf[4];
    for (size_t k = es; k-- > 0;) {
      std::snprintf(buf, sizeof buf, "%02x", w[k]);
      hw += buf;
      std::snprintf(buf, sizeof buf, "%02x", g[k]);
      hg += buf;
    }
    return ::testing::AssertionFailure()
           << "element " << i << " of " << n << ": want 0x" << hw << ", got 0x" << hg;
  }
  return ::testing::AssertionSuccess();
}

// Inputs that reach the interesting corners: random bytes for integers and narrow formats
// (every code, NaN and inf included); for float and double, mostly values of varied magnitude
// plus zeros of both signs, infinities, NaN, subnormals and random bit patterns.
std::vector<uint8_t> randomInput(strataDataType_t t, size_t n, std::mt19937_64& rng) {
  size_t es = dtypeSize(t);
  std::vector<uint8_t> v(n * es);
  for (auto& byte : v) byte = static_cast<uint8_t>(rng());
  if (t != strataFloat32 && t != strataFloat64) return v;
  std::uniform_real_distribution<double> mant(-2.0, 2.0);
  std::uniform_int_distribution<int> expo(-40, 40), kind(0, 19);
  for (size_t i = 0; i < n; ++i) {
    double d;
    switch (kind(rng)) {
      case 0:
        d = 0.0;
        break;
      case 1:
        d = -0.0;
        break;
      case 2:
        d = std::numeric_limits<double>::infinity() * (rng() & 1 ? 1 : -1);
        break;
      case 3:
        d = std::numeric_limits<double>::quiet_NaN();
        break;
      case 4:
        d = (t == strataFloat32 ? 1e-40 : 1e-310) * mant(rng);
        break;
      case 5:
        continue;  // keep the random bits
      default:
        d = std::ldexp(mant(rng), expo(rng));
        break;
    }
    if (t == strataFloat32) {
      float f = static_cast<float>(d);
      std::memcpy(v.data() + i * es, &f, es);
    } else {
      std::memcpy(v.data() + i * es, &d, es);
    }
  }
  return v;
}

class ReduceKernels : public ::testing::TestWithParam<ReduceIsa> {
 protected:
  void SetUp() override {
    if (GetParam() > detectReduceIsa())
      GTEST_SKIP() << reduceIsaName(GetParam()) << " not supported";
  }
  const KernelTable& table() const { return kernelsFor(GetParam()); }
};

TEST_P(ReduceKernels, EveryDtypeAndOpMatchesReference) {
  std::mt19937_64 rng(42);
  for (strataDataType_t t : kAllTypes) {
    for (strataRedOp_t op : kKernelOpsList) {
      for (size_t n : kLengths) {
        SCOPED_TRACE(std::string(dtypeName(t)) + " " + redopName(op) + " n=" + std::to_string(n));
        ReduceFn fn = table().reduce[t][op];
        ASSERT_NE(fn, nullptr);
        std::vector<uint8_t> a = randomInput(t, n, rng), b = randomInput(t, n, rng);
        std::vector<uint8_t> want(a.size()), got(a.size(), 0xcd);
        referenceReduce(t, op, want.data(), a.data(), b.data(), n);
        fn(got.data(), a.data(), b.data(), n);
        EXPECT_TRUE(sameElements(t, want, got, n));
      }
    }
  }
}

TEST_P(ReduceKernels, DestinationMayAliasAnInput) {
  std::mt19937_64 rng(7);
  for (strataDataType_t t : kAllTypes) {
    for (strataRedOp_t op : kKernelOpsList) {
      const size_t n = 1031;
      SCOPED_TRACE(std::string(dtypeName(t)) + " " + redopName(op));
      ReduceFn fn = table().reduce[t][op];
      std::vector<uint8_t> a = randomInput(t, n, rng), b = randomInput(t, n, rng);
      std::vector<uint8_t> want(a.size()), wantSquare(a.size());
      referenceReduce(t, op, want.data(), a.data(), b.data(), n);
      referenceReduce(t, op, wantSquare.data(), a.data(), a.data(), n);
      std::vector<uint8_t> d = a;
      fn(d.data(), d.data(), b.data(), n);  // dst == a
      EXPECT_TRUE(sameElements(t, want, d, n));
      d = b;
      fn(d.data(), a.data(), d.data(), n);  // dst == b
      EXPECT_TRUE(sameElements(t, want, d, n));
      d = a;
      fn(d.data(), d.data(), d.data(), n);  // dst == a == b
      EXPECT_TRUE(sameElements(t, wantSquare, d, n));
    }
  }
}

TEST_P(ReduceKernels, NarrowConversionsMatchScalarFunctions) {
  for (strataDataType_t t : {strataFloat16, strataBfloat16, strataFloat8e4m3, strataFloat8e5m2}) {
    SCOPED_TRACE(dtypeName(t));
    const FormatSpec& f = *formatOf(t);
    size_t es = dtypeSize(t);
    // Widen every code, bit for bit (NaN payloads included).
    size_t codes = size_t{1} << bitsOf(f);
    std::vector<uint8_t> src(codes * es);
    for (size_t c = 0; c < codes; ++c) std::memcpy(src.data() + c * es, &c, es);
    std::vector<float> wide(codes);
    table().toFloat32[t](src.data(), wide.data(), codes);
    for (size_t c = 0; c < codes; ++c)
      ASSERT_EQ(bitsOfFloat(wide[c]), bitsOfFloat(f.widen(static_cast<uint32_t>(c)))) << c;
    // Narrow a sample of floats, with a length that leaves a vector tail.
    std::vector<float> probes = probeFloats(f, 50001);
    std::vector<uint8_t> narrow(probes.size() * es);
    table().fromFloat32[t](probes.data(), narrow.data(), probes.size());
    for (size_t i = 0; i < probes.size(); ++i) {
      uint32_t got = 0;
      std::memcpy(&got, narrow.data() + i * es, es);
      ASSERT_EQ(got, f.narrow(probes[i])) << std::hexfloat << probes[i];
    }
  }
}

TEST_P(ReduceKernels, WideConversions) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> in = {2.5f, 3.5f, -2.5f, -0.4f, 300.0f, -300.0f, nan, 127.4f, 1e30f};
  std::vector<int8_t> i8(in.size());
  table().fromFloat32[strataInt8](in.data(), i8.data(), in.size());
  EXPECT_EQ(i8, (std::vector<int8_t>{2, 4, -2, 0, 127, -128, 0, 127, 127}));
  std::vector<uint8_t> u8(in.size());
  table().fromFloat32[strataUint8](in.data(), u8.data(), in.size());
  EXPECT_EQ(u8, (std::vector<uint8_t>{2, 4, 0, 0, 255, 0, 0, 127, 255}));
  std::vector<int64_t> i64(in.size());
  table().fromFloat32[strataInt64](in.data(), i64.data(), in.size());
  EXPECT_EQ(i64[8], std::numeric_limits<int64_t>::max());
  EXPECT_EQ(i64[5], -300);

  std::vector<int32_t> ints = {0, -7, 16777217, std::numeric_limits<int32_t>::min()};
  std::vector<float> out(ints.size());
  table().toFloat32[strataInt32](ints.data(), out.data(), ints.size());
  EXPECT_EQ(out, (std::vector<float>{0.0f, -7.0f, 16777216.0f, -2147483648.0f}));
  std::vector<double> dbl = {1.0 / 3, 1e300, -0.0};
  table().toFloat32[strataFloat64](dbl.data(), out.data(), dbl.size());
  EXPECT_EQ(out[0], static_cast<float>(1.0 / 3));
  EXPECT_TRUE(std::isinf(out[1]));
  EXPECT_TRUE(std::signbit(out[2]));
  std::vector<double> back(2);
  table().fromFloat32[strataFloat64](in.data(), back.data(), 2);
  EXPECT_EQ(back, (std::vector<double>{2.5, 3.5}));
}

TEST_P(ReduceKernels, DivideIntegersTruncateTowardZero) {
  std::vector<int32_t> i32 = {
      -7, 7, -8, 9, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), 0, 1};
  std::vector<int32_t> want32;
  for (int32_t v : i32) want32.push_back(v / 2);
  table().divide[strataInt32](i32.data(), i32.size(), 2);
  EXPECT_EQ(i32, want32);
  std::vector<int8_t> i8 = {-128, 127, -3, 3};
  table().divide[strataInt8](i8.data(), i8.size(), 4);
  EXPECT_EQ(i8, (std::vector<int8_t>{-32, 31, 0, 0}));
  std::vector<uint64_t> u64(100);
  for (size_t i = 0; i < u64.size(); ++i) u64[i] = ~uint64_t{0} - i * 977;
  std::vector<uint64_t> want64 = u64;
  for (auto& v : want64) v /= 3;
  table().divide[strataUint64](u64.data(), u64.size(), 3);
  EXPECT_EQ(u64, want64);
}

TEST_P(ReduceKernels, DivideFloatsRoundOnce) {
  std::mt19937_64 rng(3);
  std::vector<uint8_t> raw = randomInput(strataFloat32, 1003, rng);
  std::vector<float> f(1003), want(1003);
  std::memcpy(f.data(), raw.data(), raw.size());
  for (size_t i = 0; i < f.size(); ++i) want[i] = f[i] / 3.0f;
  table().divide[strataFloat32](f.data(), f.size(), 3);
  for (size_t i = 0; i < f.size(); ++i)
    ASSERT_TRUE(bitsOfFloat(f[i]) == bitsOfFloat(want[i]) ||
                (std::isnan(f[i]) && std::isnan(want[i])));
  std::vector<double> d = {1.0, -9.0, 1e-310};
  table().divide[strataFloat64](d.data(), d.size(), 7);
  EXPECT_EQ(d, (std::vector<double>{1.0 / 7, -9.0 / 7, 1e-310 / 7}));
  // Narrow formats: every code, widened, divided in float32, rounded once.
  for (strataDataType_t t : {strataFloat16, strataBfloat16, strataFloat8e4m3, strataFloat8e5m2}) {
    SCOPED_TRACE(dtypeName(t));
    const FormatSpec& fmt = *formatOf(t);
    size_t es = dtypeSize(t), codes = size_t{1} << bitsOf(fmt);
    for (int divisor : {3, 8}) {
      std::vector<uint8_t> buf(codes * es), ref(codes * es);
      for (size_t c = 0; c < codes; ++c) {
        uint32_t r = fmt.narrow(fmt.widen(static_cast<uint32_t>(c)) / static_cast<float>(divisor));
        std::memcpy(buf.data() + c * es, &c, es);
        std::memcpy(ref.data() + c * es, &r, es);
      }
      table().divide[t](buf.data(), codes, divisor);
      EXPECT_TRUE(sameElements(t, ref, buf, codes));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, ReduceKernels,
                         ::testing::Values(ReduceIsa::kScalar, ReduceIsa::kAvx2,
                                           ReduceIsa::kAvx512),
                         [](const ::testing::TestParamInfo<ReduceIsa>& info) {
                           return std::string(reduceIsaName(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// The public entry points.

TEST(ReduceApi, NamesAndSizes) {
  const char* names[] = {"int8", "uint8", "int32",  "uint32",   "int64",  "uint64",
                         "half", "float", "double", "bfloat16", "f8e4m3", "f8e5m2"};
  const size_t sizes[] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};
  for (strataDataType_t t : kAllTypes) {
    EXPECT_STREQ(dtypeName(t), names[t]);
    EXPECT_EQ(dtypeSize(t), sizes[t]);
    EXPECT_EQ(isLowPrecision(t), formatOf(t) != nullptr) << names[t];
  }
  EXPECT_EQ(dtypeSize(static_cast<strataDataType_t>(strataNumTypes)), 0u);
  EXPECT_STREQ(redopName(strataSum), "sum");
  EXPECT_STREQ(redopName(strataProd), "prod");
  EXPECT_STREQ(redopName(strataMax), "max");
  EXPECT_STREQ(redopName(strataMin), "min");
  EXPECT_STREQ(redopName(strataAvg), "avg");
}

TEST(ReduceApi, KernelLookup) {
  for (strataDataType_t t : kAllTypes) {
    for (strataRedOp_t op : kKernelOpsList) EXPECT_NE(reduceKernel(t, op), nullptr);
    EXPECT_EQ(reduceKernel(t, strataAvg), reduceKernel(t, strataSum));
  }
  EXPECT_EQ(reduceKernel(static_cast<strataDataType_t>(strataNumTypes), strataSum), nullptr);
  EXPECT_EQ(reduceKernel(static_cast<strataDataType_t>(-1), strataSum), nullptr);
  EXPECT_EQ(reduceKernel(strataFloat32, static_cast<strataRedOp_t>(strataNumOps)), nullptr);
}

TEST(ReduceApi, ActiveIsaFollowsDetectionAndEnvironment) {
  ReduceIsa expected = chooseReduceIsa(detectReduceIsa(), std::getenv("STRATA_REDUCE_ISA"));
  EXPECT_STREQ(reduceIsaName(), reduceIsaName(expected));
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpuHasF16c();
  EXPECT_EQ(detectReduceIsa() >= ReduceIsa::kAvx2, avx2);
  if (detectReduceIsa() == ReduceIsa::kAvx512) {
    EXPECT_TRUE(__builtin_cpu_supports("avx512bw"));
  }
}

TEST(ReduceApi, IsaRequestOnlyLowers) {
  EXPECT_EQ(chooseReduceIsa(ReduceIsa::kAvx512, nullptr), ReduceIsa::kAvx512);
  EXPECT_EQ(chooseReduceIsa(ReduceIsa::kAvx512, ""), ReduceIsa::kAvx512);
  EXPECT_EQ(chooseReduceIsa(ReduceIsa::kAvx512, "scalar"), ReduceIsa::kScalar);
  EXPECT_EQ(chooseReduceIsa(ReduceIsa::kAvx512, "avx2"), ReduceIsa::kAvx2);
  EXPECT_EQ(chooseReduceIsa(ReduceIsa::kAvx2, "avx512"), ReduceIsa::kAvx2);
  EXPECT_EQ(chooseReduceIsa(ReduceIsa::kScalar, "avx2"), ReduceIsa::kScalar);
  EXPECT_EQ(chooseReduceIsa(ReduceIsa::kAvx2, "sse9"), ReduceIsa::kAvx2);
}

TEST(ReduceApi, ConvertAndDivideThroughActiveKernels) {
  std::vector<uint16_t> h = {0x3c00, 0xc000, 0x7c00, 0x0001};
  std::vector<float> f(h.size());
  toFloat32(strataFloat16, h.data(), f.data(), h.size());
  EXPECT_EQ(f, (std::vector<float>{1.0f, -2.0f, std::numeric_limits<float>::infinity(), 0x1p-24f}));
  std::vector<uint16_t> back(h.size());
  fromFloat32(strataFloat16, f.data(), back.data(), f.size());
  EXPECT_EQ(back, h);
  std::vector<int32_t> v = {10, -10};
  divideInPlace(strataInt32, v.data(), v.size(), 4);
  EXPECT_EQ(v, (std::vector<int32_t>{2, -2}));
  divideInPlace(strataInt32, v.data(), v.size(), 0);  // not a rank count: left alone
  EXPECT_EQ(v, (std::vector<int32_t>{2, -2}));
}

}  // namespace
}  // namespace strata
