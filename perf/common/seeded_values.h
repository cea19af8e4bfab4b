// Seeded inputs whose collective results are exact in any reduction order, and those results.
//
// Integer types draw full-width random values: their sums and products wrap modulo 2^bits, which
// is associative and commutative. Floating types draw small integers (within the range each format
// holds exactly), or +-1 and +-2 for products, so float32 accumulation is exact whatever the order;
// fp16, bf16 and fp8 inputs are small enough that every partial sum of nranks of them is exact in
// the format, so reducing at the format's own width in any order gives the exact result.
// Avg is the exact sum divided once: in the element type for integers, float64 and float32, in
// float32 for the narrow types.
#pragma once

#include <cstddef>
#include <cstdint>

#include "strata/strata.h"

namespace strata::perf {

// What the values of one test case depend on. Collectives that do not reduce use strataSum.
struct ValueSpec {
  strataDataType_t type = strataFloat32;
  strataRedOp_t op = strataSum;
  uint64_t seed = 0;
  int nranks = 1;  // ranks whose inputs are reduced (bounds the narrow formats' inputs)
};

// Writes elements [first, first + count) of `rank`'s input to dst.
void fillInput(void* dst, const ValueSpec& spec, int rank, size_t first, size_t count);

// Writes elements [first, first + count) of the reduction with spec.op of the inputs of ranks
// 0..nranks-1 to dst.
void fillReduced(void* dst, const ValueSpec& spec, int nranks, size_t first, size_t count);

// Writes the small integer v as one element of type (a pre-multiplied sum's scalar).
void storeScalar(void* dst, strataDataType_t type, int v);

// The number of elements among count whose bit patterns differ between got and want.
size_t countMismatches(const void* got, const void* want, size_t count, strataDataType_t type);

}  // namespace strata::perf
