#include "moe/moe_layout.h"

#include <algorithm>
#include <vector>

#include "base/dtype.h"

namespace strata {

Status checkTopkIds(const char* op, const MoeShape& s, const TopkIds& ids) {
  if (ids.type != strataInt32 && ids.type != strataInt64)
    return makeError(strataInvalidArgument, "%s: idxType %d (%s) is not strataInt32 or strataInt64",
                     op, static_cast<int>(ids.type),
                     validType(ids.type) ? dtypeName(ids.type) : "not a strataDataType_t");
  if (ids.tokens > s.maxTokens)
    return makeError(strataInvalidArgument,
                     "%s: numTokens %zu is above the buffer's maxTokensPerRank %zu", op, ids.tokens,
                     s.maxTokens);
  if (ids.data == nullptr && ids.tokens > 0)
    return makeError(strataInvalidArgument, "%s: topkIdx is NULL with %zu tokens", op, ids.tokens);
  for (size_t t = 0; t < ids.tokens; ++t) {
    for (int j = 0; j < ids.topk; ++j) {
      const int64_t e = ids.at(t, j);
      if (e == -1 || (e >= 0 && e < s.numExperts)) continue;
      return makeError(strataInvalidArgument,
                       "%s: expert id topkIdx[%zu][%d] = %lld is out of range [0, %d) (-1 marks "
                       "an unused slot)",
                       op, t, j, static_cast<long long>(e), s.numExperts);
    }
  }
  return Status::ok();
}

void computeMoeLayout(const MoeShape& s, const TopkIds& ids, const int32_t* route,
                      int* tokensPerRank, int* tokensPerExpert, uint8_t* isTokenInRank) {
  const size_t n = static_cast<size_t>(s.nranks);
  if (tokensPerRank) std::fill_n(tokensPerRank, n, 0);
  if (tokensPerExpert) std::fill_n(tokensPerExpert, static_cast<size_t>(s.numExperts), 0);
  std::vector<uint8_t> inRank(n);
  for (size_t t = 0; t < ids.tokens; ++t) {
    std::fill(inRank.begin(), inRank.end(), 0);
    for (int j = 0; j < ids.topk; ++j) {
      const int64_t e = ids.at(t, j);
      if (e < 0) continue;
      if (tokensPerExpert) ++tokensPerExpert[e];
      inRank[static_cast<size_t>(s.rankOf(route[e]))] = 1;
    }
    for (size_t r = 0; r < n; ++r) {
      if (tokensPerRank && inRank[r]) ++tokensPerRank[r];
      if (isTokenInRank) isTokenInRank[t * n + r] = inRank[r];
    }
  }
}

}  // namespace strata
