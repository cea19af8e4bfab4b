// Float32 to the narrow formats Strata reduces (fp16, bf16, fp8 e4m3, fp8 e5m2), rounding to
// nearest with ties to even, for computing the bit patterns results must have. Written from the
// format definitions, independently of the library's kernels, so the check does not trust them.
#pragma once

#include <cstdint>

namespace strata::perf {

// x must be finite. fp16 and bf16 overflow to infinity; both fp8 formats saturate to their
// largest finite value, as Strata's narrowing does.
uint16_t encodeHalf(float x);
uint16_t encodeBfloat16(float x);
uint8_t encodeFp8e4m3(float x);
uint8_t encodeFp8e5m2(float x);

}  // namespace strata::perf
