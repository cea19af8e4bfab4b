// Sets of ranks as people read them in messages: "0-3, 5, 7-9".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace strata {

// The ranks in increasing order with consecutive runs joined ("0-3, 5"); after maxRuns runs the
// rest is counted ("0, 2, 4 and 61 more"). Duplicates are ignored; empty gives "none".
std::string formatRankList(std::vector<int> ranks, size_t maxRuns = 16);

}  // namespace strata
