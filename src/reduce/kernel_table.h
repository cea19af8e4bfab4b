// One table of reduction and conversion kernels per instruction set. kernels_scalar.cc,
// kernels_avx2.cc and kernels_avx512.cc compile the same templates (kernels_impl.h) under
// different ISA flags; reduce.cc picks one table at run time.
#pragma once

#include <cstddef>

#include "reduce/reduce.h"
#include "strata/strata.h"

namespace strata {

// Instruction-set levels, in increasing order.
enum class ReduceIsa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Every dtype converts: the narrow formats exactly / with round-to-nearest-even as in
// float_formats.h, double and the integers by value (float to integer rounds to nearest even,
// saturates to the type's range and turns NaN into 0).
using ToFloat32Fn = void (*)(const void* src, float* dst, size_t n);
using FromFloat32Fn = void (*)(const float* src, void* dst, size_t n);
// buf[i] /= divisor; divisor >= 1.
using DivideFn = void (*)(void* buf, size_t n, int divisor);

// Block quantisation of the quantised AllGather (quantize.h states the formats and the policy
// for NaN and infinities). Sources: float32, float16, bfloat16 (quantSourceIndex); formats as
// strataQuant_t numbers them. QuantizeFn writes n values of the stream (int4 packed, low nibble
// first) and its ceil(n / blockElems) scales. DequantizeFn writes elements [first, first + n) of
// a stream: `values` points at element `first` (even for int4), `scales` at the stream's block 0,
// dst at output element `first`.
inline constexpr int kQuantSources = 3;
inline constexpr int kQuantFormats = 3;
using QuantizeFn = void (*)(const void* src, void* values, float* scales, size_t blockElems,
                            size_t n);
using DequantizeFn = void (*)(const void* values, const float* scales, size_t blockElems,
                              size_t first, size_t n, void* dst);

// Ops with a kernel of their own, indexed by strataRedOp_t; strataAvg reuses strataSum.
inline constexpr int kKernelOps = strataMin + 1;

struct KernelTable {
  const char* isaName;
  ReduceFn reduce[strataNumTypes][kKernelOps];
  ToFloat32Fn toFloat32[strataNumTypes];
  FromFloat32Fn fromFloat32[strataNumTypes];
  DivideFn divide[strataNumTypes];
  QuantizeFn quantize[kQuantSources][kQuantFormats];
  DequantizeFn dequantize[kQuantSources][kQuantFormats];
};

// The tables. kernelsAvx2() and kernelsAvx512() may only be called (and their kernels run) when
// detectReduceIsa() reports at least that level.
const KernelTable& kernelsScalar();
const KernelTable& kernelsAvx2();
const KernelTable& kernelsAvx512();

// The best level this CPU and OS support: avx512 needs AVX-512 F/BW/VL/DQ plus the avx2 set;
// avx2 needs AVX2, FMA and F16C.
ReduceIsa detectReduceIsa();

// Applies a STRATA_REDUCE_ISA request ("scalar", "avx2", "avx512"; null or empty: no request) to
// the detected level. A request can only lower the level; a higher or unknown one is ignored
// with a warning.
ReduceIsa chooseReduceIsa(ReduceIsa detected, const char* request);

// The table chosen for this process (detectReduceIsa() lowered by STRATA_REDUCE_ISA), on first
// use.
const KernelTable& activeKernelTable();

// The table of a level; isa must not exceed detectReduceIsa().
const KernelTable& kernelsFor(ReduceIsa isa);

// "scalar", "avx2" or "avx512".
const char* reduceIsaName(ReduceIsa isa);

}  // namespace strata
