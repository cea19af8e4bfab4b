// The quantised AllGather's documented error bound (docs/quantization.md), checked by
// all_gather_perf -q against the unquantised gather. Written from the formats' definitions,
// independently of the library's kernels.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "strata/strata.h"

namespace strata::perf {

// "int8", "int4", "fp8" (also "fp8e4m3"); nullopt otherwise.
std::optional<strataQuant_t> parseQuant(const std::string& text);
const char* quantText(strataQuant_t q);

struct QuantErrors {
  size_t beyondBound = 0;  // elements whose error exceeds the bound
  double maxAbsError = 0;  // the largest |x - x^| (0 with no element)
};

// got and want hold nranks blocks of count elements of type (float32, float16, bfloat16): rank
// r's block is its input in `want` and its dequantised gather in `got`. Each rank's block splits
// into blocks of blockElems elements with one scale each; an element is within the bound when
//   int8, int4: |x - x^| <= scale / 2, scale = max|x| / 127 (int4: / 7)
//   fp8 e4m3:   |x - x^| <= max(|x| / 16, scale x 2^-10), scale = max|x| / 448
// plus 2^-21 |x| for the float32 arithmetic of the scaling and half an ulp of x^ in the output
// type (its own rounding).
QuantErrors measureQuantErrors(const void* got, const void* want, size_t count, int nranks,
                               strataDataType_t type, strataQuant_t q, size_t blockElems);

}  // namespace strata::perf
