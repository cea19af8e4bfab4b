// Index math only: neighbours and block schedules of a ring of n ranks.
#pragma once

namespace strata::patterns {

inline int mod(int a, int n) { return ((a % n) + n) % n; }

struct Ring {
  int rank;
  int n;
  int right() const { return mod(rank + 1, n); }
  int left() const { return mod(rank - 1, n); }

  // Reduce-scatter phase of a ring AllReduce, step s in [0, n-1): the block sent and the block
  // received (and reduced). After n-1 steps rank r owns the fully reduced block (r+1) mod n.
  int rsSendBlock(int s) const { return mod(rank - s, n); }
  int rsRecvBlock(int s) const { return mod(rank - s - 1, n); }
  // All-gather phase, step s in [0, n-1), starting from the block each rank owns.
  int agSendBlock(int s) const { return mod(rank + 1 - s, n); }
  int agRecvBlock(int s) const { return mod(rank - s, n); }
};

}  // namespace strata::patterns
