// Scalar conversions between float32 and the narrow floating formats Strata reduces:
//   fp16     IEEE binary16: 1.5.10, bias 15, inf and NaN.
//   bf16     1.8.7, the upper half of a float32.
//   fp8 e4m3 OCP E4M3FN: 1.4.3, bias 7, no infinities, NaN = S.1111.111 only, max 448.
//   fp8 e5m2 1.5.2, bias 15, IEEE-like with inf and NaN, max 57344 (the upper byte of an fp16).
// Widening is exact. Narrowing rounds to nearest, ties to even, and handles subnormals. fp16
// overflows to inf; fp8 saturates finite out-of-range values (and, for e4m3, which has no inf,
// also infinities) to the largest finite value of the right sign; e5m2 keeps infinities. NaN stays
// NaN with its sign. fp16 NaN payloads follow the F16C instructions (quiet bit set, payload
// shifted or truncated) so that scalar and vector kernels give identical bits; e5m2 does the same
// with its two mantissa bits; e4m3 has a single NaN per sign.
//
// The functions compute every candidate and pick with bit masks, without branches, so that loops
// calling them vectorise. Narrowing is integer arithmetic on the float32 bits; widening uses only
// exact integer-to-float conversions. Neither reads or produces a float32 subnormal, so the
// results do not depend on the rounding mode or on flush-to-zero / denormals-are-zero.
#pragma once

#include <cstdint>

// Kernel translation units built with vector ISA flags include this header after defining
// STRATA_ISA_NS; an inline namespace named after the ISA gives their out-of-line copies distinct
// symbols, so the linker can never hand a baseline caller a copy that uses AVX instructions.
#define STRATA_FORMATS_CAT2_(a, b) a##b
#define STRATA_FORMATS_CAT_(a, b) STRATA_FORMATS_CAT2_(a, b)
#ifdef STRATA_ISA_NS
#define STRATA_FORMATS_NS STRATA_FORMATS_CAT_(formats_, STRATA_ISA_NS)
#define STRATA_FORMATS_FOR_ISA 1
#else
#define STRATA_FORMATS_NS formats_baseline
#endif

namespace strata {
inline namespace STRATA_FORMATS_NS {

// __builtin_bit_cast rather than std::bit_cast: no out-of-line std:: template is ever emitted.
inline float floatFromBits(uint32_t u) { return __builtin_bit_cast(float, u); }
inline uint32_t bitsOfFloat(float f) { return __builtin_bit_cast(uint32_t, f); }

namespace formats_detail {

// c ? x : y with masks, so that calling loops vectorise: behind a plain ?: the compiler may sink
// a float operation into a conditional arm and then, since float operations may trap, refuse to
// if-convert; and chains of ?: build merges too wide for its if-conversion.
inline uint32_t selectBits(bool c, uint32_t x, uint32_t y) {
  uint32_t m = 0u - static_cast<uint32_t>(c);
  return (x & m) | (y & ~m);
}

constexpr uint32_t kFloatAbsMask = 0x7fffffffu;
constexpr uint32_t kFloatInf = 0x7f800000u;
constexpr uint32_t kFloatQuietBit = 0x00400000u;

// Widens the magnitude bits `mag` (exponent and mantissa, no sign) of a finite value of a format
// with kExp exponent bits, kMant mantissa bits and bias 2^(kExp-1)-1 to float32 bits. A subnormal
// 0.mant * 2^(1-bias) is the integer mant scaled by 2^(1-bias-kMant): convert the integer exactly
// and lower its exponent field.
template <int kExp, int kMant>
inline uint32_t widenFinite(uint32_t mag) {
  constexpr int kBias = (1 << (kExp - 1)) - 1;
  constexpr uint32_t kMantMask = (1u << kMant) - 1;
  uint32_t normal = (mag << (23 - kMant)) + (uint32_t(127 - kBias) << 23);
  uint32_t sub = bitsOfFloat(static_cast<float>(static_cast<int32_t>(mag & kMantMask))) -
                 (uint32_t(kBias + kMant - 1) << 23);
  return selectBits(mag < (1u << kMant), selectBits(mag == 0, 0, sub), normal);
}

// Rounds |x| (float32 bits, finite, below the target's normal range) to a subnormal of a format
// with kMant mantissa bits and bias kBias, in integer arithmetic: shift the significand (with its
// implicit bit) right to the target's subnormal spacing, ties to even. Inputs far below it
// (including float32 subnormals) clamp the shift and round to zero. The result may carry into the
// smallest normal, which is the right encoding.
template <int kMant, int kBias>
inline uint32_t roundToSubnormal(uint32_t a) {
  // Shift that lines a float32 of biased exponent e up with the target's subnormal ulp, kept in
  // [1, 31] for every input (normal-range inputs compute a result that the caller discards).
  constexpr uint32_t kShiftAtZero = (23 - kMant) + 127 + (1 - kBias);
  uint32_t raw = kShiftAtZero - (a >> 23);
  uint32_t shift = selectBits(raw - 1 > 30u, 31u, raw);
  uint32_t sig = (a & 0x7fffffu) | 0x800000u;
  uint32_t odd = (sig >> shift) & 1u;
  return (sig + ((1u << (shift - 1)) - 1) + odd) >> shift;
}

// Rounds |x| (float32 bits, at least the target's smallest normal) to the target's magnitude
// bits: rebias the exponent, add half an ulp minus one plus the kept lsb (ties to even), shift.
template <int kMant, int kBias>
inline uint32_t roundToNormal(uint32_t a) {
  constexpr int kShift = 23 - kMant;
  uint32_t odd = (a >> kShift) & 1u;
  uint32_t rebias = uint32_t(kBias - 127) << 23;  // wraps: the exponent only moves down
  return (a + rebias + ((1u << (kShift - 1)) - 1) + odd) >> kShift;
}

// Float32 bits of the smallest normal of a format with bias kBias.
template <int kBias>
constexpr uint32_t kMinNormalBits = uint32_t(127 + 1 - kBias) << 23;

}  // namespace formats_detail

// ---- fp16 ----

inline float halfToFloat(uint16_t h) {
  using namespace formats_detail;
  uint32_t mag = h & 0x7fffu;
  uint32_t mant = mag & 0x3ffu;
  uint32_t special = kFloatInf | (mant << 13) | selectBits(mant != 0, kFloatQuietBit, 0);
  uint32_t o = selectBits(mag >= 0x7c00u, special, widenFinite<5, 10>(mag));
  return floatFromBits(o | (uint32_t(h & 0x8000u) << 16));
}

inline uint16_t floatToHalf(float f) {
  using namespace formats_detail;
  uint32_t u = bitsOfFloat(f);
  uint32_t a = u & kFloatAbsMask;
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t r =
      selectBits(a < kMinNormalBits<15>, roundToSubnormal<10, 15>(a), roundToNormal<10, 15>(a));
  r = selectBits(a >= 0x47800000u, 0x7c00u, r);  // 65536 up; [65520, 65536) carries into inf
  r = selectBits(a > kFloatInf, 0x7e00u | ((a >> 13) & 0x3ffu), r);
  return static_cast<uint16_t>(r | sign);
}

// ---- bf16 ----

inline float bf16ToFloat(uint16_t h) { return floatFromBits(uint32_t(h) << 16); }

inline uint16_t floatToBf16(float f) {
  using namespace formats_detail;
  uint32_t u = bitsOfFloat(f);
  uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;  // carries into inf on overflow
  uint32_t nan = (u >> 16) | 0x40u;
  return static_cast<uint16_t>(selectBits((u & kFloatAbsMask) > kFloatInf, nan, rounded));
}

// ---- fp8 e4m3 (E4M3FN) ----

inline constexpr uint8_t kFp8E4m3Max = 0x7e;  // 448
inline constexpr uint8_t kFp8E4m3Nan = 0x7f;

inline float fp8e4m3ToFloat(uint8_t v) {
  using namespace formats_detail;
  uint32_t mag = v & 0x7fu;
  // The all-ones exponent holds ordinary normals (256..448); only S.1111.111 is NaN.
  uint32_t o = selectBits(mag == kFp8E4m3Nan, kFloatInf | kFloatQuietBit, widenFinite<4, 3>(mag));
  return floatFromBits(o | (uint32_t(v & 0x80u) << 24));
}

inline uint8_t floatToFp8e4m3(float f) {
  using namespace formats_detail;
  constexpr uint32_t kMaxBits = 0x43e00000u;  // 448.0f
  uint32_t u = bitsOfFloat(f);
  uint32_t a = u & kFloatAbsMask;
  uint32_t sign = (u >> 24) & 0x80u;
  uint32_t r = selectBits(a < kMinNormalBits<7>, roundToSubnormal<3, 7>(a), roundToNormal<3, 7>(a));
  r = selectBits(a > kMaxBits, kFp8E4m3Max, r);  // finite overflow and inf saturate
  r = selectBits(a > kFloatInf, kFp8E4m3Nan, r);
  return static_cast<uint8_t>(r | sign);
}

// ---- fp8 e5m2 ----

inline constexpr uint8_t kFp8E5m2Max = 0x7b;  // 57344
inline constexpr uint8_t kFp8E5m2Inf = 0x7c;

inline float fp8e5m2ToFloat(uint8_t v) {
  using namespace formats_detail;
  uint32_t mag = v & 0x7fu;
  uint32_t mant = mag & 0x3u;
  uint32_t special = kFloatInf | (mant << 21) | selectBits(mant != 0, kFloatQuietBit, 0);
  uint32_t o = selectBits(mag >= kFp8E5m2Inf, special, widenFinite<5, 2>(mag));
  return floatFromBits(o | (uint32_t(v & 0x80u) << 24));
}

inline uint8_t floatToFp8e5m2(float f) {
  using namespace formats_detail;
  constexpr uint32_t kMaxBits = 0x47600000u;  // 57344.0f
  uint32_t u = bitsOfFloat(f);
  uint32_t a = u & kFloatAbsMask;
  uint32_t sign = (u >> 24) & 0x80u;
  uint32_t r =
      selectBits(a < kMinNormalBits<15>, roundToSubnormal<2, 15>(a), roundToNormal<2, 15>(a));
  r = selectBits(a > kMaxBits, kFp8E5m2Max, r);  // finite overflow saturates
  r = selectBits(a == kFloatInf, kFp8E5m2Inf, r);
  r = selectBits(a > kFloatInf, 0x7eu | ((a >> 21) & 0x3u), r);
  return static_cast<uint8_t>(r | sign);
}

}  // namespace STRATA_FORMATS_NS
}  // namespace strata
