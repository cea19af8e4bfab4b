// What the hierarchical (TopoComm) algorithms share: this rank's place in a topology of two
// levels, G groups of L ranks at level 0 (a host, a server's mesh) and the rings among the ranks
// of one index across the groups at level 1, and the base class that makes them eligible where
// that view exists.
#pragma once

#include <optional>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/patterns/ring.h"

namespace strata {

// This rank's place in the two levels: G groups of L ranks; it is index i of group g.
struct TwoLevels {
  int groups = 0;  // G
  int size = 0;    // L
  int g = 0, i = 0;
  std::vector<std::vector<int>> members;  // members[h][j]: rank j of group h, ascending
  bool consecutive = true;                // members[h][j] == members[h][0] + j everywhere

  int at(int h, int j) const {
    return members[static_cast<size_t>(patterns::mod(h, groups))]
                  [static_cast<size_t>(patterns::mod(j, size))];
  }
  // Ring neighbours inside the group (level 0) and among same-index ranks (level 1).
  int right0() const { return at(g, i + 1); }
  int left0() const { return at(g, i - 1); }
  int right1() const { return at(g + 1, i); }
  int left1() const { return at(g - 1, i); }
};

inline std::optional<TwoLevels> twoLevels(const CommShape& s) {
  if (s.level0Groups.size() != static_cast<size_t>(s.nranks)) return std::nullopt;
  TwoLevels t;
  for (int r = 0; r < s.nranks; ++r) {
    const int h = s.level0Groups[static_cast<size_t>(r)];
    if (h < 0 || h >= s.nranks) return std::nullopt;
    if (static_cast<size_t>(h) >= t.members.size()) t.members.resize(static_cast<size_t>(h) + 1);
    t.members[static_cast<size_t>(h)].push_back(r);
  }
  t.groups = static_cast<int>(t.members.size());
  t.size = t.members.empty() ? 0 : static_cast<int>(t.members[0].size());
  if (t.groups < 2 || t.size < 2) return std::nullopt;
  for (const auto& m : t.members) {
    if (static_cast<int>(m.size()) != t.size) return std::nullopt;
    for (size_t j = 0; j < m.size(); ++j)
      t.consecutive = t.consecutive && m[j] == m[0] + static_cast<int>(j);
  }
  t.g = s.level0Groups[static_cast<size_t>(s.rank)];
  const auto& mine = t.members[static_cast<size_t>(t.g)];
  for (size_t j = 0; j < mine.size(); ++j)
    if (mine[j] == s.rank) t.i = static_cast<int>(j);
  return t;
}

// The three share the name, the eligibility and the two-level view of the ranks; each plans
// its own schedule over that view.
class HierAlgorithm : public Algorithm {
 public:
  const char* name() const override { return "hier"; }
  bool supports(const CollArgs&, const CommShape& s) const override {
    return twoLevels(s).has_value();
  }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const std::optional<TwoLevels> lv = twoLevels(s);
    if (!lv) return makeError(strataInternalError, "hier: the topology has no two levels");
    return planLevels(a, s, *lv, p);
  }

 protected:
  virtual Status planLevels(const CollArgs& a, const CommShape& s, const TwoLevels& t,
                            Plan& p) const = 0;
};

}  // namespace strata
