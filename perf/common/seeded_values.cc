#include "common/seeded_values.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/datatypes.h"
#include "common/narrow_float.h"

namespace strata::perf {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t rankKey(uint64_t seed, int rank) {
  return splitmix64(seed ^ (0xd1b54a32d192ed03ull * (static_cast<uint64_t>(rank) + 1)));
}

uint64_t elementBits(uint64_t key, size_t index) {
  return splitmix64(key + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(index));
}

std::vector<uint64_t> rankKeys(uint64_t seed, int nranks) {
  std::vector<uint64_t> keys(static_cast<size_t>(nranks));
  for (int r = 0; r < nranks; ++r) keys[static_cast<size_t>(r)] = rankKey(seed, r);
  return keys;
}

// ---- integer types ----

template <class T>
void intInput(void* dst, uint64_t key, size_t first, size_t count) {
  T* out = static_cast<T*>(dst);
  for (size_t i = 0; i < count; ++i) out[i] = static_cast<T>(elementBits(key, first + i));
}

// A pre-multiplied sum's term of rank r: the input times preMulScalar(r); other ops: the input.
uint64_t scaledTerm(uint64_t v, strataRedOp_t op, int r) {
  return op == kPreMulSum ? v * static_cast<uint64_t>(preMulScalar(r)) : v;
}

template <class T>
void intReduced(void* dst, const std::vector<uint64_t>& keys, strataRedOp_t op, size_t first,
                size_t count) {
  T* out = static_cast<T*>(dst);
  const int n = static_cast<int>(keys.size());
  for (size_t i = 0; i < count; ++i) {
    const T v0 = static_cast<T>(elementBits(keys[0], first + i));
    // Sums and products in 64 bits, truncated once: truncation commutes with both (and with the
    // pre-multiplication, which wraps in the type).
    uint64_t acc = scaledTerm(static_cast<uint64_t>(v0), op, 0);
    T best = v0;
    for (int r = 1; r < n; ++r) {
      const T v = static_cast<T>(elementBits(keys[static_cast<size_t>(r)], first + i));
      switch (op) {
        case strataProd:
          acc *= static_cast<uint64_t>(v);
          break;
        case strataMax:
          best = std::max(best, v);
          break;
        case strataMin:
          best = std::min(best, v);
          break;
        default:
          acc += scaledTerm(static_cast<uint64_t>(v), op, r);
          break;
      }
    }
    if (op == strataMax || op == strataMin) {
      out[i] = best;
    } else if (op == strataAvg) {
      const T sum = static_cast<T>(acc);
      const T divisor = static_cast<T>(n);
      out[i] = static_cast<T>(sum / divisor);
    } else {
      out[i] = static_cast<T>(acc);
    }
  }
}

// ---- floating types ----

// Largest input magnitude for nranks inputs: the narrow formats reduce at their own width and
// round every partial sum, so every partial sum must be an integer the format holds exactly (fp8
// e5m2 has 2 mantissa bits: every integer up to 8; e4m3 up to 16; bf16 up to 256; fp16 up to
// 2048). float32 sums of up to 4096 inputs of 4096 stay below 2^24.
int maxAbsInput(strataDataType_t type, int nranks) {
  int exact = 0;
  switch (type) {
    case strataFloat8e5m2:
      exact = 8;
      break;
    case strataFloat8e4m3:
      exact = 16;
      break;
    case strataBfloat16:
      exact = 256;
      break;
    case strataFloat16:
      exact = 2048;
      break;
    default:
      return 4096;
  }
  return std::max(1, exact / std::max(1, nranks));
}

int64_t floatInputValue(uint64_t bits, strataRedOp_t op, int maxAbs) {
  if (op == strataProd) {
    const int64_t mag = ((bits >> 8) & 7) == 0 ? 2 : 1;  // a 2 one time in 8
    return (bits & 1) ? -mag : mag;
  }
  return static_cast<int64_t>(bits % static_cast<uint64_t>(2 * maxAbs + 1)) - maxAbs;
}

// Stores x, exactly representable as a float32 unless type is float64, as element i of dst.
void storeFloat(void* dst, size_t i, strataDataType_t type, double x) {
  const float f = static_cast<float>(x);
  switch (type) {
    case strataFloat64:
      static_cast<double*>(dst)[i] = x;
      break;
    case strataFloat32:
      static_cast<float*>(dst)[i] = f;
      break;
    case strataFloat16:
      static_cast<uint16_t*>(dst)[i] = encodeHalf(f);
      break;
    case strataBfloat16:
      static_cast<uint16_t*>(dst)[i] = encodeBfloat16(f);
      break;
    case strataFloat8e4m3:
      static_cast<uint8_t*>(dst)[i] = encodeFp8e4m3(f);
      break;
    case strataFloat8e5m2:
      static_cast<uint8_t*>(dst)[i] = encodeFp8e5m2(f);
      break;
    default:
      break;
  }
}

// A pre-multiplied sum's terms are up to twice its inputs (preMulScalar): its inputs are bounded
// as for twice the ranks, so every partial sum stays exact.
int maxAbsFor(strataDataType_t type, strataRedOp_t op, int nranks) {
  return maxAbsInput(type, op == kPreMulSum ? 2 * nranks : nranks);
}

void floatInput(void* dst, strataDataType_t type, strataRedOp_t op, int nranks, uint64_t key,
                size_t first, size_t count) {
  const int maxAbs = maxAbsFor(type, op, nranks);
  for (size_t i = 0; i < count; ++i)
    storeFloat(dst, i, type,
               static_cast<double>(floatInputValue(elementBits(key, first + i), op, maxAbs)));
}

void floatReduced(void* dst, strataDataType_t type, const std::vector<uint64_t>& keys,
                  strataRedOp_t op, size_t first, size_t count) {
  const int n = static_cast<int>(keys.size());
  const int maxAbs = maxAbsFor(type, op, n);
  const auto scale = [op](int r) { return op == kPreMulSum ? preMulScalar(r) : 1; };
  for (size_t i = 0; i < count; ++i) {
    // Integers and signed powers of two: exact in double whatever the order.
    double acc = static_cast<double>(floatInputValue(elementBits(keys[0], first + i), op, maxAbs));
    acc *= scale(0);
    for (int r = 1; r < n; ++r) {
      const double v = static_cast<double>(
          floatInputValue(elementBits(keys[static_cast<size_t>(r)], first + i), op, maxAbs));
      switch (op) {
        case strataProd:
          acc *= v;
          break;
        case strataMax:
          acc = std::max(acc, v);
          break;
        case strataMin:
          acc = std::min(acc, v);
          break;
        default:
          acc += v * scale(r);
          break;
      }
    }
    if (op == strataAvg) {
      if (type == strataFloat64) {
        acc /= static_cast<double>(n);
      } else {
        acc = static_cast<double>(static_cast<float>(acc) / static_cast<float>(n));
      }
    }
    storeFloat(dst, i, type, acc);
  }
}

bool isFloating(strataDataType_t type) {
  switch (type) {
    case strataFloat16:
    case strataFloat32:
    case strataFloat64:
    case strataBfloat16:
    case strataFloat8e4m3:
    case strataFloat8e5m2:
      return true;
    default:
      return false;
  }
}

template <class Fn>
void withIntType(strataDataType_t type, Fn&& fn) {
  switch (type) {
    case strataInt8:
      fn(int8_t{});
      break;
    case strataUint8:
      fn(uint8_t{});
      break;
    case strataInt32:
      fn(int32_t{});
      break;
    case strataUint32:
      fn(uint32_t{});
      break;
    case strataInt64:
      fn(int64_t{});
      break;
    case strataUint64:
      fn(uint64_t{});
      break;
    default:
      break;
  }
}

}  // namespace

void fillInput(void* dst, const ValueSpec& spec, int rank, size_t first, size_t count) {
  const uint64_t key = rankKey(spec.seed, rank);
  if (isFloating(spec.type)) {
    floatInput(dst, spec.type, spec.op, spec.nranks, key, first, count);
    return;
  }
  withIntType(spec.type, [&](auto t) { intInput<decltype(t)>(dst, key, first, count); });
}

void fillReduced(void* dst, const ValueSpec& spec, int nranks, size_t first, size_t count) {
  const std::vector<uint64_t> keys = rankKeys(spec.seed, nranks);
  if (isFloating(spec.type)) {
    floatReduced(dst, spec.type, keys, spec.op, first, count);
    return;
  }
  withIntType(spec.type,
              [&](auto t) { intReduced<decltype(t)>(dst, keys, spec.op, first, count); });
}

void storeScalar(void* dst, strataDataType_t type, int v) {
  if (isFloating(type)) {
    storeFloat(dst, 0, type, static_cast<double>(v));
    return;
  }
  withIntType(type, [&](auto t) {
    const auto x = static_cast<decltype(t)>(v);
    std::memcpy(dst, &x, sizeof x);
  });
}

size_t countMismatches(const void* got, const void* want, size_t count, strataDataType_t type) {
  const size_t es = typeSize(type);
  const auto* a = static_cast<const unsigned char*>(got);
  const auto* b = static_cast<const unsigned char*>(want);
  if (count == 0 || std::memcmp(a, b, count * es) == 0) return 0;
  size_t wrong = 0;
  for (size_t i = 0; i < count; ++i) wrong += std::memcmp(a + i * es, b + i * es, es) != 0;
  return wrong;
}

}  // namespace strata::perf
