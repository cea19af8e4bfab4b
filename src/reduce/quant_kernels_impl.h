// Block quantisation kernels of the quantised AllGather, compiled once per instruction set from
// kernels_impl.h (same namespace and rules: no out-of-line std:: templates, plain loops that the
// compiler vectorises under the TU's flags, fp16 through its conversion intrinsics).
//
// A block's normal path makes two passes over the block, both in cache for the block sizes in
// use (a token's hidden size at most): the largest magnitude, taken on the source bits as
// integers (magnitude bits order as the values do, and NaN and infinities sort above every
// finite value, so the same pass detects them), then scale, round and store. Blocks holding NaN
// or an infinity, and blocks whose largest magnitude is too small for a normal float32 scale,
// take a scalar path (rare by construction). quantize.h states the formats and the policy.
#pragma once

#ifndef STRATA_ISA_NS
#error "reduce/quant_kernels_impl.h is included by reduce/kernels_impl.h"
#endif

namespace strata::STRATA_ISA_NS {

// ---- Sources: storage, magnitude bits, widening to float32 and narrowing back ----

struct QSrcF32 {
  using Storage = float;
  using Bits = uint32_t;
  static constexpr uint32_t kAbsMask = 0x7fffffffu;
  static constexpr uint32_t kInfBits = 0x7f800000u;
  static float widen(Storage v) { return v; }
  static float fromBits(uint32_t b) { return floatFromBits(b); }
};

struct QSrcF16 {
  using Storage = uint16_t;
  using Bits = uint16_t;
  static constexpr uint32_t kAbsMask = 0x7fffu;
  static constexpr uint32_t kInfBits = 0x7c00u;
  static float widen(Storage v) { return halfToFloat(v); }
  static float fromBits(uint32_t b) { return halfToFloat(static_cast<uint16_t>(b)); }
};

struct QSrcBf16 {
  using Storage = uint16_t;
  using Bits = uint16_t;
  static constexpr uint32_t kAbsMask = 0x7fffu;
  static constexpr uint32_t kInfBits = 0x7f80u;
  static float widen(Storage v) { return bf16ToFloat(v); }
  static float fromBits(uint32_t b) { return bf16ToFloat(static_cast<uint16_t>(b)); }
};

inline constexpr size_t kQuantStage = 256;

// n elements of S at src as float32 in stage (float32 sources are read in place).
template <class S>
const float* widenToStage(const typename S::Storage* src, float* stage, size_t n) {
  if constexpr (std::is_same_v<S, QSrcF32>) {
    (void)stage;
    (void)n;
    return src;
  } else if constexpr (std::is_same_v<S, QSrcF16>) {
    widenBlock<Fp16>(src, stage, n);
    return stage;
  } else {
    widenBlock<Bf16>(src, stage, n);
    return stage;
  }
}

// n float32 values into S at dst, rounding to nearest even.
template <class S>
void narrowFromStage(const float* stage, typename S::Storage* dst, size_t n) {
  if constexpr (std::is_same_v<S, QSrcF32>) {
    for (size_t i = 0; i < n; ++i) dst[i] = stage[i];
  } else if constexpr (std::is_same_v<S, QSrcF16>) {
    narrowBlock<Fp16>(stage, dst, n);
  } else {
    narrowBlock<Bf16>(stage, dst, n);
  }
}

// The largest magnitude bits of n elements.
template <class S>
uint32_t maxMagnitudeBits(const typename S::Storage* src, size_t n) {
  const auto* bits = reinterpret_cast<const typename S::Bits*>(src);
  if constexpr (sizeof(typename S::Bits) == 4) {
    uint32_t m = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t a = bits[i] & 0x7fffffffu;
      m = a > m ? a : m;
    }
    return m;
  } else {
    // Masked 16-bit magnitudes are non-negative int16 values: a signed max vectorises on SSE2.
    int16_t m = 0;
    for (size_t i = 0; i < n; ++i) {
      const int16_t a = static_cast<int16_t>(bits[i] & 0x7fff);
      m = a > m ? a : m;
    }
    return static_cast<uint32_t>(m);
  }
}

// ---- Formats: codes, their largest values, and the codes reserved in flagged blocks ----

enum class QFmt { kInt8, kInt4, kFp8 };

template <QFmt F>
struct QFormat;

template <>
struct QFormat<QFmt::kInt8> {
  static constexpr float kMax = 127.0f;
  static constexpr float kFlaggedMax = 126.0f;
  static constexpr int kNanCode = -128;
  static constexpr int kInfCode = 127;
};

template <>
struct QFormat<QFmt::kInt4> {
  static constexpr float kMax = 7.0f;
  static constexpr float kFlaggedMax = 6.0f;
  static constexpr int kNanCode = -8;
  static constexpr int kInfCode = 7;
};

template <>
struct QFormat<QFmt::kFp8> {
  static constexpr float kMax = 448.0f;
  static constexpr float kFlaggedMax = 416.0f;  // 0x7d: 448 (0x7e) stands for infinity
};

// Below this largest magnitude a block's scale would not be a normal float32 (or its inverse
// would overflow): such blocks are scaled in double precision.
inline constexpr float kQuantTinyMax = 1e-30f;

// Round to nearest even. rint rather than adding and subtracting 1.5 x 2^23: under -mfma the
// compiler may fuse the scaling's product into that addition, which rounds ties differently
// from the scalar build. rint vectorises to VROUNDPS on the AVX builds.
inline float roundEven(float y) { return __builtin_rintf(y); }

// ---- Storing and loading codes ----

// Int4: codes[0, m) become elements [e, e + m) of the packed stream at `values`. Blocks are
// stored in order, so an odd e merges into the high nibble of a byte whose low nibble the
// previous block wrote; a trailing odd element leaves the high nibble 0.
inline void packInt4(const int8_t* codes, size_t e, size_t m, uint8_t* values) {
  size_t j = 0;
  if ((e & 1) != 0 && m > 0) {
    uint8_t& b = values[e >> 1];
    b = static_cast<uint8_t>((b & 0x0f) | ((static_cast<uint8_t>(codes[0]) & 0x0f) << 4));
    j = 1;
  }
  uint8_t* out = values + ((e + j) >> 1);
  const size_t pairs = (m - j) / 2;
  for (size_t k = 0; k < pairs; ++k) {
    const uint8_t lo = static_cast<uint8_t>(codes[j + 2 * k]) & 0x0f;
    const uint8_t hi = static_cast<uint8_t>(codes[j + 2 * k + 1]) & 0x0f;
    out[k] = static_cast<uint8_t>(lo | (hi << 4));
  }
  if (j + 2 * pairs < m) out[pairs] = static_cast<uint8_t>(codes[m - 1]) & 0x0f;
}

// Int4: elements [r, r + m) of the stream at `values` (relative index) as sign-extended codes.
inline void unpackInt4(const uint8_t* values, size_t r, size_t m, int8_t* codes) {
  size_t j = 0;
  if ((r & 1) != 0 && m > 0) {
    codes[0] = static_cast<int8_t>(static_cast<int8_t>(values[r >> 1]) >> 4);
    j = 1;
  }
  const uint8_t* in = values + ((r + j) >> 1);
  const size_t pairs = (m - j) / 2;
  for (size_t k = 0; k < pairs; ++k) {
    const uint8_t b = in[k];
    codes[j + 2 * k] = static_cast<int8_t>(static_cast<int8_t>(b << 4) >> 4);
    codes[j + 2 * k + 1] = static_cast<int8_t>(static_cast<int8_t>(b) >> 4);
  }
  if (j + 2 * pairs < m)
    codes[m - 1] = static_cast<int8_t>(static_cast<int8_t>(in[pairs] << 4) >> 4);
}

// ---- Quantise ----

// Codes of a block's finite values x, inv = the format's largest value / the block's max |x|.
// |x * inv| exceeds that largest value by at most a rounding error, which rounds back to it (and
// fp8 narrowing saturates), so no clamp is needed: the loops stay free of float compares, which
// the compiler would not if-convert (they may trap) and so would not vectorise.
inline void codesInt(const float* x, float inv, int8_t* out, size_t m) {
  for (size_t i = 0; i < m; ++i)
    out[i] = static_cast<int8_t>(static_cast<int32_t>(roundEven(x[i] * inv)));
}

inline void codesFp8(const float* x, float inv, uint8_t* out, size_t m) {
  for (size_t i = 0; i < m; ++i) out[i] = floatToFp8e4m3(x[i] * inv);
}

// The scalar path of one block: non-finite elements take reserved codes, and the scale is
// computed in double so that tiny blocks keep their relative precision.
template <class S, QFmt F>
float quantizeBlockScalar(const typename S::Storage* src, size_t e, size_t len, void* values,
                          bool flagged) {
  using Q = QFormat<F>;
  const float lim = flagged ? Q::kFlaggedMax : Q::kMax;
  float famax = 0;
  for (size_t i = 0; i < len; ++i) {
    const float v = S::widen(src[i]);
    const float a = v < 0 ? -v : v;
    if (a <= 3.4028235e38f && a > famax) famax = a;  // finite only (NaN fails the comparison)
  }
  const double scale = famax > 0 ? static_cast<double>(famax) / lim : 1.0;
  int8_t codes[kQuantStage];
  for (size_t done = 0; done < len; done += kQuantStage) {
    const size_t m = len - done < kQuantStage ? len - done : kQuantStage;
    for (size_t i = 0; i < m; ++i) {
      const float v = S::widen(src[done + i]);
      const bool nan = v != v;
      const bool inf = !nan && (v > 3.4028235e38f || v < -3.4028235e38f);
      double y = static_cast<double>(v) / scale;
      y = y > lim ? lim : (y < -lim ? -lim : y);
      if constexpr (F == QFmt::kFp8) {
        uint8_t c = floatToFp8e4m3(static_cast<float>(y));
        if (nan) c = kFp8E4m3Nan;
        if (inf) c = v > 0 ? kFp8E4m3Max : static_cast<uint8_t>(0x80 | kFp8E4m3Max);
        static_cast<uint8_t*>(values)[e + done + i] = c;
      } else {
        // NaN has no integer value: converting it would be undefined, so it never is.
        int c = nan ? Q::kNanCode : static_cast<int>(__builtin_rint(y));
        if (inf) c = v > 0 ? Q::kInfCode : -Q::kInfCode;
        if constexpr (F == QFmt::kInt8)
          static_cast<int8_t*>(values)[e + done + i] = static_cast<int8_t>(c);
        else
          codes[i] = static_cast<int8_t>(c);
      }
    }
    if constexpr (F == QFmt::kInt4) packInt4(codes, e + done, m, static_cast<uint8_t*>(values));
  }
  const float s = static_cast<float>(scale);
  return flagged ? -s : s;
}

template <class S, QFmt F>
void quantizeStream(const void* srcv, void* values, float* scales, size_t blockElems, size_t n) {
  using Q = QFormat<F>;
  const auto* src = static_cast<const typename S::Storage*>(srcv);
  alignas(64) float stage[kQuantStage];
  alignas(64) int8_t codes[kQuantStage];
  size_t b = 0;
  for (size_t begin = 0; begin < n; begin += blockElems, ++b) {
    const size_t len = n - begin < blockElems ? n - begin : blockElems;
    const typename S::Storage* in = src + begin;
    const uint32_t mbits = maxMagnitudeBits<S>(in, len);
    if (mbits >= S::kInfBits) {
      scales[b] = quantizeBlockScalar<S, F>(in, begin, len, values, true);
      continue;
    }
    const float amax = S::fromBits(mbits);
    if (amax < kQuantTinyMax && mbits != 0) {
      scales[b] = quantizeBlockScalar<S, F>(in, begin, len, values, false);
      continue;
    }
    // An all-zero block (padding tokens, say) has scale 1 and zero codes, on the fast path.
    scales[b] = mbits != 0 ? amax / Q::kMax : 1.0f;
    const float inv = mbits != 0 ? Q::kMax / amax : 0.0f;
    for (size_t done = 0; done < len; done += kQuantStage) {
      const size_t m = len - done < kQuantStage ? len - done : kQuantStage;
      const float* x = widenToStage<S>(in + done, stage, m);
      if constexpr (F == QFmt::kInt8) {
        codesInt(x, inv, static_cast<int8_t*>(values) + begin + done, m);
      } else if constexpr (F == QFmt::kInt4) {
        codesInt(x, inv, codes, m);
        packInt4(codes, begin + done, m, static_cast<uint8_t*>(values));
      } else {
        codesFp8(x, inv, static_cast<uint8_t*>(values) + begin + done, m);
      }
    }
  }
}

// ---- Dequantise ----

// Values of codes [r, r + m) (relative to `values`) times s, as float32 in out.
template <QFmt F>
void decodeScaled(const void* values, size_t r, size_t m, float s, float* out) {
  if constexpr (F == QFmt::kInt8) {
    const int8_t* q = static_cast<const int8_t*>(values) + r;
    for (size_t i = 0; i < m; ++i) out[i] = static_cast<float>(q[i]) * s;
  } else if constexpr (F == QFmt::kInt4) {
    alignas(64) int8_t codes[kQuantStage];
    unpackInt4(static_cast<const uint8_t*>(values), r, m, codes);
    for (size_t i = 0; i < m; ++i) out[i] = static_cast<float>(codes[i]) * s;
  } else {
    const uint8_t* q = static_cast<const uint8_t*>(values) + r;
    for (size_t i = 0; i < m; ++i) out[i] = fp8e4m3ToFloat(q[i]) * s;
  }
}

// A flagged block (negative scale): reserved codes become NaN and infinities.
template <QFmt F>
void decodeFlagged(const void* values, size_t r, size_t m, float s, float* out) {
  constexpr float kInf = __builtin_huge_valf();
  const float nan = __builtin_nanf("");
  if constexpr (F == QFmt::kFp8) {
    const uint8_t* q = static_cast<const uint8_t*>(values) + r;
    for (size_t i = 0; i < m; ++i) {
      const uint8_t mag = q[i] & 0x7f;
      const bool neg = (q[i] & 0x80) != 0;
      if (mag == kFp8E4m3Nan)
        out[i] = nan;
      else if (mag == kFp8E4m3Max)
        out[i] = neg ? -kInf : kInf;
      else
        out[i] = fp8e4m3ToFloat(q[i]) * s;
    }
  } else {
    using Q = QFormat<F>;
    alignas(64) int8_t codes[kQuantStage];
    if constexpr (F == QFmt::kInt4)
      unpackInt4(static_cast<const uint8_t*>(values), r, m, codes);
    else
      for (size_t i = 0; i < m; ++i) codes[i] = static_cast<const int8_t*>(values)[r + i];
    for (size_t i = 0; i < m; ++i) {
      const int c = codes[i];
      if (c == Q::kNanCode)
        out[i] = nan;
      else if (c == Q::kInfCode)
        out[i] = kInf;
      else if (c == -Q::kInfCode)
        out[i] = -kInf;
      else
        out[i] = static_cast<float>(c) * s;
    }
  }
}

// decodeScaled and the rounding into S in one loop, for the sources whose narrowing the compiler
// vectorises element by element (float32, bfloat16): the float32 values never go through a
// staging buffer. float16 narrows through its conversion instructions, from a stage.
template <class S, QFmt F>
void decodeScaledInto(const void* values, size_t r, size_t m, float s, typename S::Storage* out) {
  auto narrow = [](float f) {
    if constexpr (std::is_same_v<S, QSrcF32>)
      return f;
    else
      return floatToBf16(f);
  };
  if constexpr (F == QFmt::kInt8) {
    const int8_t* q = static_cast<const int8_t*>(values) + r;
    for (size_t i = 0; i < m; ++i) out[i] = narrow(static_cast<float>(q[i]) * s);
  } else if constexpr (F == QFmt::kInt4) {
    alignas(64) int8_t codes[kQuantStage];
    for (size_t done = 0; done < m; done += kQuantStage) {
      const size_t k = m - done < kQuantStage ? m - done : kQuantStage;
      unpackInt4(static_cast<const uint8_t*>(values), r + done, k, codes);
      for (size_t i = 0; i < k; ++i) out[done + i] = narrow(static_cast<float>(codes[i]) * s);
    }
  } else {
    const uint8_t* q = static_cast<const uint8_t*>(values) + r;
    for (size_t i = 0; i < m; ++i) out[i] = narrow(fp8e4m3ToFloat(q[i]) * s);
  }
}

template <class S, QFmt F>
void dequantizeStream(const void* values, const float* scales, size_t blockElems, size_t first,
                      size_t n, void* dstv) {
  auto* dst = static_cast<typename S::Storage*>(dstv);
  alignas(64) float stage[kQuantStage];
  size_t e = first;
  const size_t end = first + n;
  while (e < end) {
    const size_t b = e / blockElems;
    const size_t blockEnd = (b + 1) * blockElems < end ? (b + 1) * blockElems : end;
    const float sc = scales[b];
    const bool flagged = (bitsOfFloat(sc) & 0x80000000u) != 0;
    const float s = flagged ? -sc : sc;
    if constexpr (!std::is_same_v<S, QSrcF16>) {
      if (!flagged) {
        decodeScaledInto<S, F>(values, e - first, blockEnd - e, s, dst + (e - first));
        e = blockEnd;
        continue;
      }
    }
    for (; e < blockEnd;) {
      const size_t m = blockEnd - e < kQuantStage ? blockEnd - e : kQuantStage;
      if (flagged)
        decodeFlagged<F>(values, e - first, m, s, stage);
      else
        decodeScaled<F>(values, e - first, m, s, stage);
      narrowFromStage<S>(stage, dst + (e - first), m);
      e += m;
    }
  }
}

template <class S>
constexpr void setQuantSource(KernelTable& t, int i) {
  t.quantize[i][strataQuantInt8] = quantizeStream<S, QFmt::kInt8>;
  t.quantize[i][strataQuantInt4] = quantizeStream<S, QFmt::kInt4>;
  t.quantize[i][strataQuantFp8e4m3] = quantizeStream<S, QFmt::kFp8>;
  t.dequantize[i][strataQuantInt8] = dequantizeStream<S, QFmt::kInt8>;
  t.dequantize[i][strataQuantInt4] = dequantizeStream<S, QFmt::kInt4>;
  t.dequantize[i][strataQuantFp8e4m3] = dequantizeStream<S, QFmt::kFp8>;
}

// Source index order: float32, float16, bfloat16 (quantSourceIndex in quantize.h).
constexpr void setQuantKernels(KernelTable& t) {
  setQuantSource<QSrcF32>(t, 0);
  setQuantSource<QSrcF16>(t, 1);
  setQuantSource<QSrcBf16>(t, 2);
}

}  // namespace strata::STRATA_ISA_NS
