// Reading and checking top-k expert ids, and the dispatch layout computed from them (DeepEP's
// get_dispatch_layout): tokens per rank, tokens per expert, token-in-rank. Local: no
// communication.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"
#include "moe/moe_shape.h"
#include "strata/strata.h"

namespace strata {

// Top-k expert ids as the caller passed them: numTokens x topk of int32 or int64.
struct TopkIds {
  const void* data = nullptr;
  strataDataType_t type = strataInt32;
  size_t tokens = 0;
  int topk = 0;

  int64_t at(size_t token, int slot) const {
    const size_t i = token * static_cast<size_t>(topk) + static_cast<size_t>(slot);
    return type == strataInt64 ? static_cast<const int64_t*>(data)[i]
                               : static_cast<const int32_t*>(data)[i];
  }
};

// Checks the id type, the token count against the buffer's maximum, the pointer and every id
// (in [0, numExperts), or -1 for an unused slot); InvalidArgument names the token, the slot
// and the value.
Status checkTopkIds(const char* op, const MoeShape& s, const TopkIds& ids);

// The layout of checked ids; any output may be null. isTokenInRank is tokens x nranks. route
// maps each expert to the slot this rank sends it to (MoePlacement::route).
void computeMoeLayout(const MoeShape& s, const TopkIds& ids, const int32_t* route,
                      int* tokensPerRank, int* tokensPerExpert, uint8_t* isTokenInRank);

}  // namespace strata
