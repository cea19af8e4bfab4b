// The largest communicator and the largest buffer a call may name. Both are checked at the C
// edge before anything is sized from them, so an absurd value fails at once with a message
// instead of exhausting memory, overflowing a size or faulting in a copy (docs/errors.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata {

// Ranks in one communicator. Peer tables, bootstrap rounds and shared-memory segments are sized
// by the rank count; 65536 is far beyond any job this library runs and keeps every per-rank
// table small enough to allocate.
inline constexpr int kMaxRanks = 65536;

// Bytes one buffer of one call may span (512 GiB). Transports address messages with 64-bit
// sizes, but no transport here has been run with more, and a CPU collective on more than a host's
// memory is a wrong count: rejecting it beats a fault in the first copy.
inline constexpr uint64_t kMaxBufferBytes = uint64_t{1} << 39;

// a * b when it is at most `limit`; false (and *out untouched) when it is larger or overflows.
inline bool boundedProduct(uint64_t a, uint64_t b, uint64_t limit, uint64_t* out) {
  if (b != 0 && a > limit / b) return false;
  *out = a * b;
  return true;
}

}  // namespace strata
