// One rank of the quantised AllGather's multi-process test (quantized_mp_test.cc), through the
// public C API only: every source type and format, block sizes that do and do not divide the
// count, counts 0, 1, 7, 1000 and (1 << 20) + 3, in and out of place, each element within the
// documented bound; the raw gather's values times its scales equal the dequantised gather; a
// prequantised gather returns its inputs. Prints "OK rank R" and exits 0, or "FAIL rank R: ...".
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "strata/strata.h"
#include "worker_report.h"

namespace {

using namespace strata::worker;

size_t sizeOf(strataDataType_t t) { return t == strataFloat32 ? 4 : 2; }

float load(strataDataType_t t, const std::vector<uint8_t>& b, size_t i) {
  if (t == strataFloat32) {
    float f;
    std::memcpy(&f, b.data() + i * 4, 4);
    return f;
  }
  if (t == strataFloat16) {
    _Float16 h;
    std::memcpy(&h, b.data() + i * 2, 2);
    return static_cast<float>(h);
  }
  uint16_t h;
  std::memcpy(&h, b.data() + i * 2, 2);
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void store(strataDataType_t t, std::vector<uint8_t>& b, size_t i, float v) {
  if (t == strataFloat32) {
    std::memcpy(b.data() + i * 4, &v, 4);
  } else if (t == strataFloat16) {
    const _Float16 h = static_cast<_Float16>(v);
    std::memcpy(b.data() + i * 2, &h, 2);
  } else {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    const uint16_t h = static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16);
    std::memcpy(b.data() + i * 2, &h, 2);
  }
}

// Rank r's input: a hash-driven value in [-1, 1) scaled by a magnitude that changes every 64
// elements.
std::vector<uint8_t> inputOf(strataDataType_t t, int r, size_t count) {
  std::vector<uint8_t> b(count * sizeOf(t));
  for (size_t i = 0; i < count; ++i) {
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ (static_cast<uint64_t>(r) << 40);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    const float u = static_cast<float>(x >> 40) / static_cast<float>(1 << 23) - 1.0f;
    store(t, b, i,
          u * std::ldexp(1.0f, static_cast<int>((i / 64 + static_cast<size_t>(r)) % 10) - 5));
  }
  return b;
}

double halfUlp(strataDataType_t t, float v) {
  const int mant = t == strataFloat32 ? 23 : t == strataFloat16 ? 10 : 7;
  int e = 0;
  std::frexp(std::fabs(v), &e);
  return std::ldexp(1.0, std::max(e, t == strataFloat16 ? -13 : -125) - 1 - mant);
}

void checkBound(strataDataType_t t, strataQuant_t q, const std::vector<uint8_t>& in,
                const std::vector<uint8_t>& out, size_t base, size_t count, size_t block,
                const char* what) {
  const double qmax = q == strataQuantInt8 ? 127 : q == strataQuantInt4 ? 7 : 448;
  for (size_t b = 0; b < count; b += block) {
    const size_t end = std::min(count, b + block);
    double amax = 0;
    for (size_t i = b; i < end; ++i) amax = std::max(amax, std::fabs(double{load(t, in, i)}));
    const double s = amax / qmax;
    for (size_t i = b; i < end; ++i) {
      const float x = load(t, in, i), xh = load(t, out, base + i);
      const double step = q == strataQuantFp8e4m3 ? std::max(std::fabs(x) / 16.0, s / 1024) : s / 2;
      const double lim = step + std::ldexp(std::fabs(x), -21) + halfUlp(t, xh);
      if (!(std::fabs(double{x} - xh) <= lim))
        fail("%s: element %zu of block %zu: %g -> %g, beyond the bound %g", what, i, base / count,
             double{x}, double{xh}, lim);
    }
  }
}

void dequantisedGathers() {
  const strataDataType_t types[] = {strataFloat32, strataFloat16, strataBfloat16};
  const strataQuant_t quants[] = {strataQuantInt8, strataQuantInt4, strataQuantFp8e4m3};
  const size_t n = static_cast<size_t>(g_nranks), me = static_cast<size_t>(g_rank);
  for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}, (size_t{1} << 20) + 3}) {
    for (size_t block : {size_t{7}, size_t{100}, size_t{128}}) {
      for (size_t ti = 0; ti < 3; ++ti) {
        const strataDataType_t t = types[ti];
        for (strataQuant_t q : quants) {
          // The large count once per type, each with another format, to keep the run short.
          if (count > 1000 && (block != 128 || q != quants[ti])) continue;
          for (int inPlace = 0; inPlace < 2; ++inPlace) {
            char what[128];
            std::snprintf(what, sizeof what, "type %d quant %d count %zu block %zu %s", t, q, count,
                          block, inPlace ? "in place" : "out of place");
            const size_t es = sizeOf(t);
            const std::vector<uint8_t> in = inputOf(t, g_rank, count);
            std::vector<uint8_t> out(count * es * n, 0);
            const void* send = in.data();
            if (inPlace) {
              std::memcpy(out.data() + me * count * es, in.data(), in.size());
              send = out.data() + me * count * es;
            }
            ok(strataAllGatherQuantized(send, out.data(), count, t, q, block, g_comm, nullptr),
               what);
            for (size_t k = 0; k < n; ++k)
              checkBound(t, q, inputOf(t, static_cast<int>(k), count), out, k * count, count, block,
                         what);
          }
        }
      }
    }
  }
}

// float32: the dequantised value of an int8 or int4 code is exactly code x scale.
void rawGathers() {
  const size_t n = static_cast<size_t>(g_nranks), me = static_cast<size_t>(g_rank);
  const size_t count = 999, block = 64, nb = (count + block - 1) / block;
  for (strataQuant_t q : {strataQuantInt8, strataQuantInt4, strataQuantFp8e4m3}) {
    const std::vector<uint8_t> in = inputOf(strataFloat32, g_rank, count);
    const size_t vb = strataQuantValueBytes(q, count);
    std::vector<uint8_t> values(vb * n), out(count * 4 * n);
    std::vector<float> scales(nb * n);
    ok(strataAllGatherQuantizedRaw(in.data(), values.data(), scales.data(), count, strataFloat32, q,
                                   block, g_comm, nullptr),
       "strataAllGatherQuantizedRaw");
    ok(strataAllGatherQuantized(in.data(), out.data(), count, strataFloat32, q, block, g_comm,
                                nullptr),
       "strataAllGatherQuantized");
    if (q != strataQuantFp8e4m3) {
      for (size_t k = 0; k < n; ++k) {
        for (size_t i = 0; i < count; ++i) {
          int code;
          if (q == strataQuantInt8) {
            code = static_cast<int8_t>(values[k * vb + i]);
          } else {
            const uint8_t byte = values[k * vb + i / 2];
            code = static_cast<int8_t>(static_cast<uint8_t>(i % 2 ? byte & 0xf0 : byte << 4)) >> 4;
          }
          const float want = static_cast<float>(code) * scales[k * nb + i / block];
          float got;
          std::memcpy(&got, out.data() + (k * count + i) * 4, 4);
          if (got != want)
            fail("raw quant %d: rank %zu element %zu: code %d x scale %g = %g, dequantised %g", q,
                 k, i, code, double{scales[k * nb + i / block]}, double{want}, double{got});
        }
      }
    }
    std::vector<uint8_t> v2(vb * n);
    std::vector<float> s2(nb * n);
    ok(strataAllGatherQuantizedRawPrequantized(values.data() + me * vb, scales.data() + me * nb,
                                               v2.data(), s2.data(), count, q, block, g_comm,
                                               nullptr),
       "strataAllGatherQuantizedRawPrequantized");
    if (v2 != values || std::memcmp(s2.data(), scales.data(), scales.size() * 4) != 0)
      fail("prequantised gather of quant %d changed the values or scales", q);
  }
}

}  // namespace

int main() {
  initComm();
  dequantisedGathers();
  rawGathers();
  finishComm();
  std::printf("OK rank %d\n", g_rank);
  return 0;
}
