// Copies that bypass the cache (non-temporal stores) for large outputs nobody reads soon: they
// skip the read-for-ownership of every destination line, which is a third of a plain copy's
// memory traffic.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "reduce/reduce.h"

namespace strata {
namespace {

__attribute__((target("avx2"))) void streamCopyAvx2(std::byte* dst, const std::byte* src,
                                                    size_t n) {
  size_t head = (32 - (reinterpret_cast<uintptr_t>(dst) & 31)) & 31;
  if (head > n) head = n;
  std::memcpy(dst, src, head);
  dst += head;
  src += head;
  n -= head;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 64));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 96));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 32), b);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 64), c);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 96), d);
  }
  std::memcpy(dst + i, src + i, n - i);
  _mm_sfence();  // the stores are weakly ordered: make them visible before any later flag
}

bool haveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2");
  return have;
}

}  // namespace

void copyStreaming(void* dst, const void* src, size_t bytes) {
  if (haveAvx2()) {
    streamCopyAvx2(static_cast<std::byte*>(dst), static_cast<const std::byte*>(src), bytes);
  } else {
    std::memcpy(dst, src, bytes);
  }
}

}  // namespace strata
