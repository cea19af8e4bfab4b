#include "common/quant_error.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace strata::perf {
namespace {

float halfToFloat(uint16_t h) {
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0)
    v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
  return sign ? -v : v;
}

float load(strataDataType_t t, const void* p, size_t i) {
  if (t == strataFloat32) {
    float f;
    std::memcpy(&f, static_cast<const char*>(p) + i * 4, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, static_cast<const char*>(p) + i * 2, 2);
  if (t == strataFloat16) return halfToFloat(h);
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

double halfUlp(strataDataType_t t, float v) {
  const int mant = t == strataFloat32 ? 23 : t == strataFloat16 ? 10 : 7;
  const int minExp = t == strataFloat16 ? -13 : -125;
  int e = 0;
  std::frexp(std::fabs(v), &e);
  return std::ldexp(1.0, std::max(e, minExp) - 1 - mant);
}

}  // namespace

std::optional<strataQuant_t> parseQuant(const std::string& text) {
  if (text == "int8") return strataQuantInt8;
  if (text == "int4") return strataQuantInt4;
  if (text == "fp8" || text == "fp8e4m3") return strataQuantFp8e4m3;
  return std::nullopt;
}

const char* quantText(strataQuant_t q) {
  switch (q) {
    case strataQuantInt8:
      return "int8";
    case strataQuantInt4:
      return "int4";
    case strataQuantFp8e4m3:
      return "fp8e4m3";
    default:
      return "?";
  }
}

QuantErrors measureQuantErrors(const void* got, const void* want, size_t count, int nranks,
                               strataDataType_t type, strataQuant_t q, size_t blockElems) {
  const double qmax = q == strataQuantInt8 ? 127.0 : q == strataQuantInt4 ? 7.0 : 448.0;
  QuantErrors out;
  for (int r = 0; r < nranks; ++r) {
    const size_t base = static_cast<size_t>(r) * count;
    for (size_t b = 0; b < count; b += blockElems) {
      const size_t end = std::min(count, b + blockElems);
      double amax = 0;
      for (size_t i = b; i < end; ++i)
        amax = std::max(amax, std::fabs(double{load(type, want, base + i)}));
      const double scale = amax / qmax;
      for (size_t i = b; i < end; ++i) {
        const float x = load(type, want, base + i);
        const float xh = load(type, got, base + i);
        const double err = std::fabs(static_cast<double>(x) - xh);
        const double step =
            q == strataQuantFp8e4m3 ? std::max(std::fabs(x) / 16.0, scale / 1024.0) : scale / 2;
        const double bound = step + std::ldexp(std::fabs(x), -21) + halfUlp(type, xh);
        if (!(err <= bound)) ++out.beyondBound;
        if (err > out.maxAbsError || err != err) out.maxAbsError = err;
      }
    }
  }
  return out;
}

}  // namespace strata::perf
