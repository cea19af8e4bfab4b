// Block quantisation: each block of `blockElems` elements gets one symmetric float32 scale
// (max |x| / the format's largest value), and its elements are stored as round(x / scale) in
// int8 or packed int4 (kPackedInt4, base/quant_format.h), or as x / scale in an fp8 format. A
// short last block is allowed.
//
// float32, float16 and bfloat16 into int8, int4 and fp8 e4m3 (the quantised AllGather) run the
// vector kernels of the active table (kernel_table.h); other pairs run a scalar loop.
//
// NaN and infinities (those pairs): a block holding any gets the negative scale -|scale|; its
// finite elements are scaled to a range one step narrower (int8 +-126, int4 +-6, fp8 +-416) and
// the non-finite ones take reserved codes: int8 -128 NaN, +-127 +-Inf; int4 -8 NaN, +-7 +-Inf;
// fp8 e4m3 its NaN, +-448 for +-Inf. Dequantising a block with a negative scale turns those codes
// back into NaN and +-Inf, so non-finite inputs come out exactly where they went in and the
// block's finite values keep their error bound (docs/quantization.md). Blocks of unflagged
// scale decode every code as a number.
#pragma once

#include <cstddef>

#include "base/quant_format.h"
#include "strata/strata.h"

namespace strata {

// Whether `to` is a format quantize() writes (int8, packed int4, fp8 e4m3, fp8 e5m2).
bool isQuantizedType(strataDataType_t to);

// 0, 1, 2 for float32, float16, bfloat16 (the vector kernels' sources); -1 otherwise.
int quantSourceIndex(strataDataType_t t);

// n elements of `from` (any float type) at src into `to` at dst, with ceil(n / blockElems)
// scales. blockElems must be >= 1.
void quantizeBlocks(strataDataType_t from, const void* src, strataDataType_t to, void* dst,
                    float* scales, size_t blockElems, size_t n);

// The inverse: values of `from` (int8, packed int4, fp8) times their block's scale, written as
// `to`.
void dequantizeBlocks(strataDataType_t from, const void* src, const float* scales,
                      size_t blockElems, strataDataType_t to, void* dst, size_t n);

// Elements [first, first + n) of a quantised stream: `values` points at element `first` (even
// for packed int4), `scales` at the stream's first block, dst at output element `first`. What a
// receive that dequantises chunk by chunk calls.
void dequantizeRange(strataDataType_t from, const void* values, const float* scales,
                     size_t blockElems, size_t first, size_t n, strataDataType_t to, void* dst);

}  // namespace strata
