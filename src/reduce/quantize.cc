#include "reduce/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "base/dtype.h"
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

}  // namespace

bool isQuantizedType(strataDataType_t to) { return formatMax(to) > 0; }

void quantizeBlocks(strataDataType_t from, const void* src, strataDataType_t to, void* dst,
                    float* scales, size_t blockElems, size_t n) {
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
  if (!isQuantizedType(from) || blockElems == 0) return;
  const size_t inSize = dtypeSize(from);
  const size_t outSize = dtypeSize(to);
  float x[kStageElems];
  for (size_t b = 0; b * blockElems < n; ++b) {
    const size_t begin = b * blockElems;
    const size_t len = std::min(blockElems, n - begin);
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
