// AllToAllv counts shaped like MoE token routing: every rank sends the same number of elements
// in total (its tokens), split over destinations whose popularity follows a Zipf law, so a few
// destinations (hot experts) receive much more than the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace strata::perf {

struct RoutingDist {
  double zipfExponent = 0;  // 0: every destination equally likely ("uniform")
  std::string text = "uniform";
};

// "uniform", "zipf" (exponent 1) or "zipf:S" with S >= 0; nullopt otherwise.
std::optional<RoutingDist> parseRoutingDist(const std::string& text);

// counts[s][d]: elements rank s sends to rank d. Every row sums to perRank. The same seed gives
// the same matrix on every rank. The k-th most popular destination (a seeded permutation of the
// ranks) draws tokens with weight 1 / k^S.
std::vector<std::vector<size_t>> drawRoutingCounts(size_t perRank, int nranks,
                                                   const RoutingDist& dist, uint64_t seed);

}  // namespace strata::perf
