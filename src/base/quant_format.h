// The low-bit formats of the quantised AllGather as every layer sees them: the element type the
// values are stored in, how many bytes n of them take, and how many block scales they carry.
#pragma once

#include <cstddef>

#include "strata/strata.h"

namespace strata {

// The internal element type of packed int4 values: two signed 4-bit values a byte, element 2i
// in the low nibble of byte i. Not a strataDataType_t a caller can pass (validType() is false
// for it); only transforms and dequantising receives carry it.
inline constexpr strataDataType_t kPackedInt4 = static_cast<strataDataType_t>(32);

inline bool validQuant(strataQuant_t q) {
  const int i = static_cast<int>(q);
  return i >= 0 && i < strataNumQuants;
}

// strataInt8, kPackedInt4 or strataFloat8e4m3.
inline strataDataType_t quantStorageType(strataQuant_t q) {
  switch (q) {
    case strataQuantInt8:
      return strataInt8;
    case strataQuantInt4:
      return kPackedInt4;
    case strataQuantFp8e4m3:
      return strataFloat8e4m3;
    case strataNumQuants:
      break;
  }
  return strataInt8;
}

// "int8", "int4", "fp8e4m3".
inline const char* quantName(strataQuant_t q) {
  switch (q) {
    case strataQuantInt8:
      return "int8";
    case strataQuantInt4:
      return "int4";
    case strataQuantFp8e4m3:
      return "fp8e4m3";
    case strataNumQuants:
      break;
  }
  return "invalid";
}

// Bytes of n values stored as t (kPackedInt4: ceil(n / 2); the byte formats: n).
inline size_t quantValueBytes(strataDataType_t t, size_t n) {
  return t == kPackedInt4 ? (n + 1) / 2 : n;
}

// Scales of n elements in blocks of blockElems (the last block may be short).
inline size_t quantBlockCount(size_t n, size_t blockElems) {
  return blockElems == 0 ? 0 : (n + blockElems - 1) / blockElems;
}

}  // namespace strata
