#include "base/rank_list.h"

#include <algorithm>

namespace strata {

std::string formatRankList(std::vector<int> ranks, size_t maxRuns) {
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  if (ranks.empty()) return "none";
  std::string out;
  size_t runs = 0;
  size_t i = 0;
  while (i < ranks.size()) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (runs == maxRuns) {
      out.append(" and ").append(std::to_string(ranks.size() - i)).append(" more");
      break;
    }
    if (runs > 0) out += ", ";
    out += std::to_string(ranks[i]);
    if (j > i) out.append("-").append(std::to_string(ranks[j]));
    ++runs;
    i = j + 1;
  }
  return out;
}

}  // namespace strata
