// Kernel templates, compiled once per instruction set. A translation unit defines STRATA_ISA_NS
// (scalar, avx2, avx512), includes this header, and exposes makeKernelTable() of that namespace.
// Everything here lives in strata::STRATA_ISA_NS so that copies built with different flags never
// share a mangled name: the linker cannot merge an AVX-512 instantiation into a baseline caller.
// For the same reason nothing below calls an out-of-line std:: template.
//
// The loops are plain indexed loops that the compiler vectorises under each TU's flags. dst may
// equal a or b: every element is read before it is written, and the compiler's run-time overlap
// checks accept identical pointers. Only fp16 uses intrinsics (F16C / AVX-512F conversions),
// because the compiler does not turn the scalar bit manipulation into VCVTPH2PS / VCVTPS2PH.
#pragma once

#ifndef STRATA_ISA_NS
#error "define STRATA_ISA_NS before including reduce/kernels_impl.h"
#endif

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "reduce/float_formats.h"
#include "reduce/kernel_table.h"

#ifndef STRATA_FORMATS_FOR_ISA
#error "reduce/float_formats.h was included before STRATA_ISA_NS was defined"
#endif

namespace strata::STRATA_ISA_NS {

// ---- Element operations ----
//
// Integer sum and product wrap modulo 2^bits: they run on an unsigned type at least as wide as
// unsigned int, where overflow is defined and no promotion to signed int can overflow.
// Max and min are `a > b ? a : b` and `a < b ? a : b` for every type. With a NaN operand the
// comparison is false and the result is b, exactly what x86 MAXPS/MINPS return, so scalar and
// vector kernels agree bit for bit. This is not IEEE maxNum: max(NaN, 1) = 1 but max(1, NaN) =
// NaN, and max(-0, +0) = +0 but max(+0, -0) = -0.

template <class T, bool = std::is_integral_v<T>>
struct WrapArith {
  using type = T;
};
template <class T>
struct WrapArith<T, true> {
  using type = decltype(std::make_unsigned_t<T>{} + 0u);
};
template <class T>
using WrapArithT = typename WrapArith<T>::type;

struct SumOp {
  template <class T>
  static T apply(T a, T b) {
    return static_cast<T>(static_cast<WrapArithT<T>>(a) + static_cast<WrapArithT<T>>(b));
  }
};

struct ProdOp {
  template <class T>
  static T apply(T a, T b) {
    return static_cast<T>(static_cast<WrapArithT<T>>(a) * static_cast<WrapArithT<T>>(b));
  }
};

struct MaxOp {
  template <class T>
  static T apply(T a, T b) {
    return a > b ? a : b;
  }
};

struct MinOp {
  template <class T>
  static T apply(T a, T b) {
    return a < b ? a : b;
  }
};

// ---- Narrow floating formats: storage type plus exact widening and RNE narrowing ----

struct Fp16 {
  using Storage = uint16_t;
  static float widen(Storage v) { return halfToFloat(v); }
  static Storage narrow(float f) { return floatToHalf(f); }
};

struct Bf16 {
  using Storage = uint16_t;
  static float widen(Storage v) { return bf16ToFloat(v); }
  static Storage narrow(float f) { return floatToBf16(f); }
};

struct Fp8E4m3 {
  using Storage = uint8_t;
  static float widen(Storage v) { return fp8e4m3ToFloat(v); }
  static Storage narrow(float f) { return floatToFp8e4m3(f); }
};

struct Fp8E5m2 {
  using Storage = uint8_t;
  static float widen(Storage v) { return fp8e5m2ToFloat(v); }
  static Storage narrow(float f) { return floatToFp8e5m2(f); }
};

// ---- fp16 vector conversions: return how many leading elements they converted ----
//
// The scalar functions above give the same bits as these instructions (round to nearest even,
// NaN quietened with its payload shifted or truncated), so the scalar tails blend in. The AVX-512
// loops use the all-ones maskz intrinsics, which are the plain instructions: the unmasked ones
// trip GCC 12's false -Wmaybe-uninitialized on _mm512_undefined_ps (GCC bug 105593).

inline size_t widenHalfVector([[maybe_unused]] const uint16_t* src, [[maybe_unused]] float* dst,
                              [[maybe_unused]] size_t n) {
  size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm512_storeu_ps(dst + i, _mm512_maskz_cvtph_ps(0xffff, h));
  }
#endif
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  return i;
}

#if defined(__F16C__)
inline constexpr int kRoundNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
#endif

inline size_t narrowHalfVector([[maybe_unused]] const float* src, [[maybe_unused]] uint16_t* dst,
                               [[maybe_unused]] size_t n) {
  size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    __m256i h = _mm512_maskz_cvtps_ph(0xffff, _mm512_loadu_ps(src + i), kRoundNearest);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
  }
#endif
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), kRoundNearest);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
#endif
  return i;
}

template <class F>
void widenBlock(const typename F::Storage* src, float* dst, size_t n) {
  size_t i = 0;
  if constexpr (std::is_same_v<F, Fp16>) i = widenHalfVector(src, dst, n);
  for (; i < n; ++i) dst[i] = F::widen(src[i]);
}

template <class F>
void narrowBlock(const float* src, typename F::Storage* dst, size_t n) {
  size_t i = 0;
  if constexpr (std::is_same_v<F, Fp16>) i = narrowHalfVector(src, dst, n);
  for (; i < n; ++i) dst[i] = F::narrow(src[i]);
}

// ---- Reductions ----

template <class Op, class T>
void reduceNative(void* dst, const void* a, const void* b, size_t n) {
  T* d = static_cast<T*>(dst);
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  for (size_t i = 0; i < n; ++i) d[i] = Op::apply(x[i], y[i]);
}

// Narrow formats go through float32 staging blocks small enough to stay in L1: widen both
// inputs, reduce in float32, round once into dst. A block is fully read before it is written,
// so dst may alias a or b.
inline constexpr size_t kStageElems = 256;

template <class Op, class F>
void reduceStaged(void* dst, const void* a, const void* b, size_t n) {
  using S = typename F::Storage;
  S* d = static_cast<S*>(dst);
  const S* x = static_cast<const S*>(a);
  const S* y = static_cast<const S*>(b);
  alignas(64) float fx[kStageElems];
  alignas(64) float fy[kStageElems];
  for (size_t done = 0; done < n; done += kStageElems) {
    size_t len = n - done < kStageElems ? n - done : kStageElems;
    widenBlock<F>(x + done, fx, len);
    widenBlock<F>(y + done, fy, len);
    for (size_t i = 0; i < len; ++i) fx[i] = Op::apply(fx[i], fy[i]);
    narrowBlock<F>(fx, d + done, len);
  }
}

// ---- Conversions to and from float32 ----

constexpr float powerOfTwo(int e) {
  float p = 1.0f;
  for (int i = 0; i < e; ++i) p *= 2.0f;
  return p;
}

// Round to nearest even, saturate to T's range, NaN -> 0: defined for every input.
template <class T>
T floatToInt(float x) {
  constexpr float kLimit = powerOfTwo(std::numeric_limits<T>::digits);  // first value past max
  constexpr float kLowest = std::is_signed_v<T> ? -kLimit : 0.0f;       // exactly min
  constexpr T kMax = std::numeric_limits<T>::max();
  constexpr T kMin = std::numeric_limits<T>::min();
  float r = __builtin_rintf(x);
  if (r != r) return 0;
  if (r >= kLimit) return kMax;
  if (r <= kLowest) return kMin;
  return static_cast<T>(r);
}

template <class T>
void toFloat32Native(const void* src, float* dst, size_t n) {
  const T* s = static_cast<const T*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
}

template <class T>
void fromFloat32Native(const float* src, void* dst, size_t n) {
  T* d = static_cast<T*>(dst);
  if constexpr (std::is_floating_point_v<T>) {
    for (size_t i = 0; i < n; ++i) d[i] = static_cast<T>(src[i]);
  } else {
    for (size_t i = 0; i < n; ++i) d[i] = floatToInt<T>(src[i]);
  }
}

template <class F>
void toFloat32Staged(const void* src, float* dst, size_t n) {
  widenBlock<F>(static_cast<const typename F::Storage*>(src), dst, n);
}

template <class F>
void fromFloat32Staged(const float* src, void* dst, size_t n) {
  narrowBlock<F>(src, static_cast<typename F::Storage*>(dst), n);
}

// ---- Division for strataAvg ----

// Integers divide with C++ semantics (truncation toward zero); floats divide in their own type.
template <class T>
void divideNative(void* buf, size_t n, int divisor) {
  T* p = static_cast<T*>(buf);
  const T d = static_cast<T>(divisor);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<T>(p[i] / d);
}

template <class F>
void divideStaged(void* buf, size_t n, int divisor) {
  using S = typename F::Storage;
  S* p = static_cast<S*>(buf);
  const float d = static_cast<float>(divisor);
  alignas(64) float f[kStageElems];
  for (size_t done = 0; done < n; done += kStageElems) {
    size_t len = n - done < kStageElems ? n - done : kStageElems;
    widenBlock<F>(p + done, f, len);
    for (size_t i = 0; i < len; ++i) f[i] = f[i] / d;
    narrowBlock<F>(f, p + done, len);
  }
}

}  // namespace strata::STRATA_ISA_NS

#include "reduce/quant_kernels_impl.h"

namespace strata::STRATA_ISA_NS {

// ---- The table ----

template <class T>
constexpr void setNative(KernelTable& t, strataDataType_t type) {
  t.reduce[type][strataSum] = reduceNative<SumOp, T>;
  t.reduce[type][strataProd] = reduceNative<ProdOp, T>;
  t.reduce[type][strataMax] = reduceNative<MaxOp, T>;
  t.reduce[type][strataMin] = reduceNative<MinOp, T>;
  t.toFloat32[type] = toFloat32Native<T>;
  t.fromFloat32[type] = fromFloat32Native<T>;
  t.divide[type] = divideNative<T>;
}

template <class F>
constexpr void setStaged(KernelTable& t, strataDataType_t type) {
  t.reduce[type][strataSum] = reduceStaged<SumOp, F>;
  t.reduce[type][strataProd] = reduceStaged<ProdOp, F>;
  t.reduce[type][strataMax] = reduceStaged<MaxOp, F>;
  t.reduce[type][strataMin] = reduceStaged<MinOp, F>;
  t.toFloat32[type] = toFloat32Staged<F>;
  t.fromFloat32[type] = fromFloat32Staged<F>;
  t.divide[type] = divideStaged<F>;
}

constexpr KernelTable makeKernelTable(const char* isaName) {
  KernelTable t{};
  t.isaName = isaName;
  setNative<int8_t>(t, strataInt8);
  setNative<uint8_t>(t, strataUint8);
  setNative<int32_t>(t, strataInt32);
  setNative<uint32_t>(t, strataUint32);
  setNative<int64_t>(t, strataInt64);
  setNative<uint64_t>(t, strataUint64);
  setStaged<Fp16>(t, strataFloat16);
  setNative<float>(t, strataFloat32);
  setNative<double>(t, strataFloat64);
  setStaged<Bf16>(t, strataBfloat16);
  setStaged<Fp8E4m3>(t, strataFloat8e4m3);
  setStaged<Fp8E5m2>(t, strataFloat8e5m2);
  setQuantKernels(t);
  return t;
}

}  // namespace strata::STRATA_ISA_NS
