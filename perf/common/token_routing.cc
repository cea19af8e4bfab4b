#include "common/token_routing.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <numeric>

namespace strata::perf {
namespace {

// Tokens drawn per source rank; their shares split the row's elements.
constexpr size_t kTokensPerRow = 4096;

class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t x = (state_ += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }

 private:
  uint64_t state_;
};

}  // namespace

std::optional<RoutingDist> parseRoutingDist(const std::string& text) {
  RoutingDist d;
  d.text = text;
  if (text == "uniform") return d;
  if (text == "zipf") {
    d.zipfExponent = 1.0;
    return d;
  }
  if (text.rfind("zipf:", 0) != 0) return std::nullopt;
  const char* s = text.c_str() + 5;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < 0)
    return std::nullopt;
  d.zipfExponent = v;
  return d;
}

std::vector<std::vector<size_t>> drawRoutingCounts(size_t perRank, int nranks,
                                                   const RoutingDist& dist, uint64_t seed) {
  const auto n = static_cast<size_t>(nranks);
  std::vector<std::vector<size_t>> counts(n, std::vector<size_t>(n, 0));
  if (perRank == 0) return counts;

  SplitMix rng(seed);
  std::vector<size_t> byPopularity(n);
  std::iota(byPopularity.begin(), byPopularity.end(), size_t{0});
  for (size_t i = n; i > 1; --i) std::swap(byPopularity[i - 1], byPopularity[rng.next() % i]);
  std::vector<double> cumulative(n);
  double total = 0;
  for (size_t k = 0; k < n; ++k) {
    total += std::pow(static_cast<double>(k + 1), -dist.zipfExponent);
    cumulative[k] = total;
  }

  const size_t tokens = std::min(perRank, kTokensPerRow);
  for (size_t s = 0; s < n; ++s) {
    SplitMix rowRng(seed ^ (0xd1b54a32d192ed03ull * (s + 1)));
    std::vector<size_t> drawn(n, 0);
    for (size_t t = 0; t < tokens; ++t) {
      const double u = rowRng.uniform() * total;
      size_t k = static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), u) -
                                     cumulative.begin());
      drawn[byPopularity[std::min(k, n - 1)]]++;
    }
    // Each token carries perRank / tokens elements; the remainder goes to the largest fractions.
    std::vector<size_t>& row = counts[s];
    std::vector<size_t> fraction(n);
    size_t assigned = 0;
    for (size_t d = 0; d < n; ++d) {
      const auto share = static_cast<unsigned __int128>(perRank) * drawn[d];
      row[d] = static_cast<size_t>(share / tokens);
      fraction[d] = static_cast<size_t>(share % tokens);
      assigned += row[d];
    }
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return fraction[a] > fraction[b]; });
    for (size_t i = 0; assigned < perRank; ++i, ++assigned) row[order[i % n]]++;
  }
  return counts;
}

}  // namespace strata::perf
