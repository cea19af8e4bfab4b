// Buffers of one block of count elements per rank: the gathered layout (AllGather, Gather: a
// block in, nranks blocks out) and the scattered one (ReduceScatter, Scatter: nranks blocks in,
// a block out). As in nccl-tests, the size column is the whole nranks x count buffer, and in
// place the single block is this rank's block of it.
#pragma once

#include <cstddef>

#include "common/collective.h"

namespace strata::perf {

CallShape gatheredShape(size_t bytes, strataDataType_t type, int nranks);
CallShape scatteredShape(size_t bytes, strataDataType_t type, int nranks);

// Writes, for every rank j, elements [first, first + count) of rank j's input as block j of out.
void fillRankBlocks(void* out, size_t count, const TestCase& tc, const ValueSpec& values,
                    size_t first);

}  // namespace strata::perf
