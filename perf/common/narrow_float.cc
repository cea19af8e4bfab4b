#include "common/narrow_float.h"

#include <algorithm>
#include <cmath>

namespace strata::perf {
namespace {

struct NarrowFormat {
  int expBits;
  int mantBits;
  uint32_t maxFinite;  // magnitude bits of the largest finite value
  uint32_t overflow;   // magnitude bits stored when the rounded value exceeds it
};

constexpr NarrowFormat kHalf{5, 10, 0x7bff, 0x7c00};
constexpr NarrowFormat kBfloat16{8, 7, 0x7f7f, 0x7f80};
constexpr NarrowFormat kE4m3{4, 3, 0x7e, 0x7e};  // E4M3FN: S.1111.111 is NaN, no infinities
constexpr NarrowFormat kE5m2{5, 2, 0x7b, 0x7b};

// Scales |x| so that one unit is the spacing of the target format at x's binade (clamped to the
// subnormal spacing), rounds to an integer significand, and packs exponent and mantissa. Every
// step is exact in double except the one rounding, which uses the default ties-to-even mode.
uint32_t encode(float x, const NarrowFormat& f) {
  const uint32_t sign = std::signbit(x) ? 1u << (f.expBits + f.mantBits) : 0u;
  const double a = std::fabs(static_cast<double>(x));
  if (a == 0.0) return sign;
  const int bias = (1 << (f.expBits - 1)) - 1;
  const int minExp = 1 - bias;
  int e = std::max(std::ilogb(a), minExp);
  auto m = static_cast<uint64_t>(std::nearbyint(std::ldexp(a, f.mantBits - e)));
  const uint64_t implicit = uint64_t{1} << f.mantBits;
  if (m >= 2 * implicit) {  // rounded up into the next binade
    m >>= 1;
    ++e;
  }
  uint64_t mag;
  if (m < implicit) {
    mag = m;  // subnormal: exponent field 0
  } else {
    mag = (static_cast<uint64_t>(e + bias) << f.mantBits) | (m - implicit);
  }
  if (mag > f.maxFinite) mag = f.overflow;
  return sign | static_cast<uint32_t>(mag);
}

}  // namespace

uint16_t encodeHalf(float x) { return static_cast<uint16_t>(encode(x, kHalf)); }
uint16_t encodeBfloat16(float x) { return static_cast<uint16_t>(encode(x, kBfloat16)); }
uint8_t encodeFp8e4m3(float x) { return static_cast<uint8_t>(encode(x, kE4m3)); }
uint8_t encodeFp8e5m2(float x) { return static_cast<uint8_t>(encode(x, kE5m2)); }

}  // namespace strata::perf
