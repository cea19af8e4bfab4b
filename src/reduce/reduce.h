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

// dst = s0 op s1 op ... op s(count-1), operand k at first + k * strideBytes, n elements each.
// Low-precision types accumulate in float32 and round once; the others reduce pairwise in
// operand order. dst may alias an operand.
void reduceOperands(strataDataType_t t, strataRedOp_t op, void* dst, const void* first,
                    size_t strideBytes, int count, size_t n);

// dst = srcs[0] op srcs[1] op ... op srcs[count-1], n elements each, in operand order. Works
// through the operands a block at a time (the block of dst stays in cache); low-precision
// types accumulate in float32 and round once. dst may alias any operand.
void reduceOperandList(strataDataType_t t, strataRedOp_t op, void* dst, const void* const* srcs,
                       int count, size_t n);

// n elements of type `from` at src into type `to` at dst (through float32 unless one side is
// float32; doubles and 64-bit integers keep their value only where float32 holds it).
void convertElements(strataDataType_t from, const void* src, strataDataType_t to, void* dst,
                     size_t n);

// Widen n elements of type t to float32, and narrow back with round-to-nearest-even
// (saturating for fp8).
void toFloat32(strataDataType_t t, const void* src, float* dst, size_t n);
void fromFloat32(strataDataType_t t, const float* src, void* dst, size_t n);

// dst[i] = src[i] x *scalar for n elements of type t (the scalar is one element of t), written
// as type `to` (t, or float32 for a low-precision t). Low-precision types multiply in float32
// and round once when `to` is t; integers multiply with wrap-around. dst may alias src.
void preMultiply(strataDataType_t t, const void* src, const void* scalar, strataDataType_t to,
                 void* dst, size_t n);

// buf[i] /= divisor (integer division for integer types). Used once at the end of strataAvg.
void divideInPlace(strataDataType_t t, void* buf, size_t n, int divisor);

// memcpy with non-temporal stores (AVX2 where available): for large outputs not read again soon.
void copyStreaming(void* dst, const void* src, size_t bytes);

// Which kernel family this CPU runs: "avx512", "avx2" or "scalar".
const char* reduceIsaName();

}  // namespace strata
