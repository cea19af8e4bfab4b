// One element of a float32, float16 or bfloat16 buffer read or written as a float: how the tests
// of low-precision calls fill their inputs and compare against a float reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "reduce/float_formats.h"
#include "strata/strata.h"

namespace strata::test {

inline float widenAt(strataDataType_t t, const void* buf, size_t i) {
  const auto* p = static_cast<const uint8_t*>(buf);
  if (t == strataFloat32) {
    float f;
    std::memcpy(&f, p + i * 4, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p + i * 2, 2);
  return t == strataFloat16 ? halfToFloat(h) : bf16ToFloat(h);
}

inline void storeAt(strataDataType_t t, void* buf, size_t i, float v) {
  auto* p = static_cast<uint8_t*>(buf);
  if (t == strataFloat32) {
    std::memcpy(p + i * 4, &v, 4);
    return;
  }
  const uint16_t h = t == strataFloat16 ? floatToHalf(v) : floatToBf16(v);
  std::memcpy(p + i * 2, &h, 2);
}

}  // namespace strata::test
