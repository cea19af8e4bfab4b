// Block quantisation: each block of `blockElems` elements gets one symmetric float32 scale
// (max |x| / the format's largest value), and its elements are stored as round(x / scale) in
// int8 or as x / scale in an fp8 format. A short last block is allowed. Scalar kernels.
#pragma once

#include <cstddef>

#include "strata/strata.h"

namespace strata {

// Whether `to` is a format quantize() writes (int8, fp8 e4m3, fp8 e5m2).
bool isQuantizedType(strataDataType_t to);

// n elements of `from` (any float type) at src into `to` at dst, with ceil(n / blockElems)
// scales. blockElems must be >= 1.
void quantizeBlocks(strataDataType_t from, const void* src, strataDataType_t to, void* dst,
                    float* scales, size_t blockElems, size_t n);

// The inverse: values of `from` (int8, fp8) times their block's scale, written as `to`.
void dequantizeBlocks(strataDataType_t from, const void* src, const float* scales,
                      size_t blockElems, strataDataType_t to, void* dst, size_t n);

}  // namespace strata
