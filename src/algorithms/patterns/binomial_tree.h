// Index math only: a binomial tree over n ranks rooted at `root`, in ranks relative to the root
// (v = rank - root mod n). Relative rank v != 0 hangs under v - lowbit(v) and owns the subtree
// of relative ranks [v, v + subtree(v)); its children are v + m for every power of two
// m < lowbit(v) with v + m < n. The root owns [0, n).
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "algorithms/patterns/ring.h"

namespace strata::patterns {

struct BinomialTree {
  int rank;
  int n;
  int root;

  int relative() const { return mod(rank - root, n); }
  int actual(int v) const { return mod(v + root, n); }
  static int lowbit(int v) { return v & -v; }
  // The relative ranks under relative rank v (itself included).
  int subtree(int v) const { return v == 0 ? n : std::min(lowbit(v), n - v); }
  // The smallest power of two >= n: the tree's rounds are the masks below it.
  int span() const {
    int m = 1;
    while (m < n) m <<= 1;
    return m;
  }
  // Splits the relative range [lo, hi) where the actual ranks wrap past n - 1, so each piece
  // is contiguous in actual rank order (in the root's buffer).
  std::vector<std::pair<int, int>> actualPieces(int lo, int hi) const {
    const int wrap = n - root;  // relative rank of actual rank 0
    if (lo < wrap && wrap < hi) return {{lo, wrap}, {wrap, hi}};
    return {{lo, hi}};
  }
};

}  // namespace strata::patterns
