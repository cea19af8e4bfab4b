// Index math only: how `count` elements split into `parts` near-equal blocks.
#pragma once

#include <cstddef>

namespace strata::patterns {

struct Block {
  size_t offset = 0;  // elements
  size_t count = 0;   // elements
};

// Block i of `count` elements cut into `parts` blocks; the first count % parts blocks hold one
// element more.
inline Block blockOf(size_t count, int parts, int i) {
  const size_t p = static_cast<size_t>(parts);
  const size_t idx = static_cast<size_t>(i);
  const size_t base = count / p;
  const size_t extra = count % p;
  Block b;
  b.count = base + (idx < extra ? 1 : 0);
  b.offset = base * idx + (idx < extra ? idx : extra);
  return b;
}

// Number of pipeline chunks for `bytes` when each chunk holds about `chunkBytes`.
inline size_t chunksFor(size_t bytes, size_t chunkBytes) {
  if (bytes == 0) return 0;
  return (bytes + chunkBytes - 1) / chunkBytes;
}

}  // namespace strata::patterns
