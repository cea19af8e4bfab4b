#include "reduce/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "base/dtype.h"
#include "reduce/kernel_table.h"
#include "reduce/reduce.h"

namespace strata {
namespace {

constexpr size_t kStageElems = 1024;

// The largest finite value of each quantised format.
float formatMax(strataDataType_t t) {
  switch (t) {
    case strataInt8: return 127.0f;
    case strataFloat8e4m3: return 448.0f;
    case strataFloat8e5m2: return 57344.0f;
    default: return 0.0f;
  }
}

// The strataQuant_t of a format the vector kernels write; -1 for the others.
int quantFormatIndex(strataDataType_t t) {
  if (t == strataInt8) return strataQuantInt8;
  if (t == kPackedInt4) return strataQuantInt4;
  if (t == strataFloat8e4m3) return strataQuantFp8e4m3;
  return -1;
}

}  // namespace

bool isQuantizedType(strataDataType_t to) { return formatMax(to) > 0 || to == kPackedInt4; }

int quantSourceIndex(strataDataType_t t) {
  switch (t) {
    case strataFloat32: return 0;
    case strataFloat16: return 1;
    case strataBfloat16: return 2;
    default: return -1;
  }
}

void quantizeBlocks(strataDataType_t from, const void* src, strataDataType_t to, void* dst,
                    float* scales, size_t blockElems, size_t n) {
  if (blockElems == 0) return;
  const int si = quantSourceIndex(from);
  const int fi = quantFormatIndex(to);
  if (si >= 0 && fi >= 0) {
    activeKernelTable().quantize[si][fi](src, dst, scales, blockElems, n);
    return;
  }
  const float qmax = formatMax(to);
  if (qmax == 0 || blockElems == 0) return;
  const size_t inSize = dtypeSize(from);
  const size_t outSize = dtypeSize(to);
  float x[kStageElems];
  for (size_t b = 0; b * blockElems < n; ++b) {
    const size_t begin = b * blockElems;
    const size_t len = std::min(blockElems, n - begin);
    float amax = 0;
    for (size_t i = 0; i < len; i += kStageElems) {
      const size_t m = std::min(kStageElems, len - i);
      convertElements(from, static_cast<const std::byte*>(src) + (begin + i) * inSize,
                      strataFloat32, x, m);
      for (size_t j = 0; j < m; ++j) amax = std::max(amax, std::fabs(x[j]));
    }
    const float scale = amax > 0 ? amax / qmax : 1.0f;
    scales[b] = scale;
    const float inv = 1.0f / scale;
    for (size_t i = 0; i < len; i += kStageElems) {
      const size_t m = std::min(kStageElems, len - i);
      convertElements(from, static_cast<const std::byte*>(src) + (begin + i) * inSize,
                      strataFloat32, x, m);
      for (size_t j = 0; j < m; ++j) x[j] = std::clamp(x[j] * inv, -qmax, qmax);
      std::byte* out = static_cast<std::byte*>(dst) + (begin + i) * outSize;
      if (to == strataInt8) {
        for (size_t j = 0; j < m; ++j)
          reinterpret_cast<int8_t*>(out)[j] = static_cast<int8_t>(std::nearbyint(x[j]));
      } else {
        fromFloat32(to, x, out, m);
      }
    }
  }
}

void dequantizeBlocks(strataDataType_t from, const void* src, const float* scales,
                      size_t blockElems, strataDataType_t to, void* dst, size_t n) {
  dequantizeRange(from, src, scales, blockElems, 0, n, to, dst);
}

void dequantizeRange(strataDataType_t from, const void* values, const float* scales,
                     size_t blockElems, size_t first, size_t n, strataDataType_t to, void* dst) {
  if (!isQuantizedType(from) || blockElems == 0 || n == 0) return;
  const int fi = quantFormatIndex(from);
  if (fi >= 0) {
    const int si = quantSourceIndex(to);
    if (si >= 0) {
      activeKernelTable().dequantize[si][fi](values, scales, blockElems, first, n, dst);
      return;
    }
    // Other output types: through float32 in stages.
    float x[kStageElems];
    const size_t outSize = dtypeSize(to);
    for (size_t i = 0; i < n; i += kStageElems) {
      const size_t m = std::min(kStageElems, n - i);
      const size_t vbytes = from == kPackedInt4 ? i / 2 : i;  // i is a multiple of kStageElems
      activeKernelTable().dequantize[0][fi](static_cast<const std::byte*>(values) + vbytes,
                                            scales, blockElems, first + i, m, x);
      convertElements(strataFloat32, x, to, static_cast<std::byte*>(dst) + i * outSize, m);
    }
    return;
  }
  // fp8 e5m2: the scalar loop, over the elements' own blocks.
  const void* src = static_cast<const std::byte*>(values) - first * dtypeSize(from);
  dst = static_cast<std::byte*>(dst) - first * dtypeSize(to);
  const size_t inSize = dtypeSize(from);
  const size_t outSize = dtypeSize(to);
  float x[kStageElems];
  const size_t end = first + n;
  for (size_t b = first / blockElems; b * blockElems < end; ++b) {
    const size_t begin = std::max(b * blockElems, first);
    const size_t len = std::min((b + 1) * blockElems, end) - begin;
    for (size_t i = 0; i < len; i += kStageElems) {
      const size_t m = std::min(kStageElems, len - i);
      toFloat32(from, static_cast<const std::byte*>(src) + (begin + i) * inSize, x, m);
      for (size_t j = 0; j < m; ++j) x[j] *= scales[b];
      convertElements(strataFloat32, x, to, static_cast<std::byte*>(dst) + (begin + i) * outSize,
                      m);
    }
  }
}

}  // namespace strata
