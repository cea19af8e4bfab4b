// Index math only: folding a rank count onto the largest power of two below it, as recursive
// halving and doubling need. With p = 2^floor(log2 n) and rem = n - p, the first 2·rem ranks
// pair up: each even one sits out (its partner, the odd rank above it, stands for both) and the
// p remaining ranks are numbered 0..p-1 in order ("new ranks"). New rank j stands for old ranks
// [first(j), first(j+1)): two for j < rem, one otherwise.
#pragma once

namespace strata::patterns {

struct Folding {
  int n = 1, p = 1, rem = 0;
  explicit Folding(int nranks) : n(nranks) {
    while (p * 2 <= n) p *= 2;
    rem = n - p;
  }
  // -1 for a rank that sits out (an even rank below 2·rem).
  int newRank(int r) const { return r < 2 * rem ? (r % 2 == 1 ? r / 2 : -1) : r - rem; }
  int oldRank(int nr) const { return nr < rem ? 2 * nr + 1 : nr + rem; }
  // The first old rank new rank j stands for; first(p) = n.
  int first(int j) const { return j == p ? n : (j < rem ? 2 * j : j + rem); }
};

}  // namespace strata::patterns
