// Element-wise reduction and conversion kernels for every dtype and op. The vector variants
// (AVX2, AVX-512) are picked at run time by CPU feature; a scalar variant always exists.
#pragma once

#include <cstddef>

#include "base/dtype.h"
#include "strata/strata.h"

namespace strata {

// dst[i] = a[i] op b[i] for n elements of type t. dst may alias a or b. strataAvg reduces as
// strataSum (the division happens once, in divideInPlace). For low-precision types the kernel
// converts, reduces in float32 and rounds (callers that need round-once stage into float32).
using ReduceFn = void (*)(void* dst, const void* a, const void* b, size_t n);
ReduceFn reduceKernel(strataDataType_t t, strataRedOp_t op);

// Widen n elements of type t to float32, and narrow back with round-to-nearest-even
// (saturating for fp8).
void toFloat32(strataDataType_t t, const void* src, float* dst, size_t n);
void fromFloat32(strataDataType_t t, const float* src, void* dst, size_t n);

// buf[i] /= divisor (integer division for integer types). Used once at the end of strataAvg.
void divideInPlace(strataDataType_t t, void* buf, size_t n, int divisor);

// memcpy with non-temporal stores (AVX2 where available): for large outputs not read again soon.
void copyStreaming(void* dst, const void* src, size_t bytes);

// Which kernel family this CPU runs: "avx512", "avx2" or "scalar".
const char* reduceIsaName();

}  // namespace strata
