// Pipelined chain Broadcast and Reduce: data flows rank to rank along a chain in chunks, so every
// link is busy at once after the first chunk. The chain for Broadcast starts at the root; the
// chain for Reduce ends at it.
#include "algorithms/algorithm.h"
#include "algorithms/patterns/blocks.h"
#include "algorithms/patterns/ring.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::chunksFor;
using patterns::mod;

size_t chunkLen(size_t total, size_t chunk, size_t j) {
  const size_t off = j * chunk;
  return off >= total ? 0 : std::min(chunk, total - off);
}

// Chunk size aligned to whole elements.
size_t alignedChunk(const CommShape& s, size_t es) { return std::max(es, s.chunkBytes / es * es); }

class ChainBroadcast final : public Algorithm {
 public:
  const char* name() const override { return "chain"; }
  const char* description() const override {
    return "chunks flow along a chain from the root, every link busy once the pipeline fills";
  }
  CollType coll() const override { return CollType::kBroadcast; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int n = s.nranks;
    const int v = mod(s.rank - a.root, n);
    const int next = mod(s.rank + 1, n);
    const int prev = mod(s.rank - 1, n);
    // Every hop moves the same chunk messages, so the ends stream them in one phase and the
    // middle ranks forward chunk j-1 while chunk j arrives.
    const size_t chunk = alignedChunk(s, dtypeSize(a.dtype));
    const size_t k = chunksFor(bytes, chunk);
    PlanBuilder pb = builderFor(p, a);
    if (v == 0) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
      if (n > 1)
        for (size_t j = 0; j < k; ++j) pb.send(next, sendAt(j * chunk), chunkLen(bytes, chunk, j));
    } else if (v == n - 1) {
      for (size_t j = 0; j < k; ++j) pb.recv(prev, recvAt(j * chunk), chunkLen(bytes, chunk, j));
    } else {
      for (size_t j = 0; j <= k; ++j) {
        pb.nextPhase();
        if (j < k) pb.recv(prev, recvAt(j * chunk), chunkLen(bytes, chunk, j));
        if (j > 0) pb.send(next, recvAt((j - 1) * chunk), chunkLen(bytes, chunk, j - 1));
      }
    }
    pb.finish();
    return Status::ok();
  }
};

class ChainReduce final : public Algorithm {
 public:
  const char* name() const override { return "chain"; }
  const char* description() const override {
    return "chunks flow along a chain ending at the root, reduced at every hop, pipelined";
  }
  CollType coll() const override { return CollType::kReduce; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int n = s.nranks;
    const int v = mod(s.rank - a.root - 1, n);  // the root is last in the chain
    const int next = mod(s.rank + 1, n);
    const int prev = mod(s.rank - 1, n);
    const size_t chunk = alignedChunk(s, dtypeSize(a.dtype));
    const size_t k = chunksFor(bytes, chunk);
    PlanBuilder pb = builderFor(p, a);
    if (n == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
    } else if (v == 0) {
      for (size_t j = 0; j < k; ++j) pb.send(next, sendAt(j * chunk), chunkLen(bytes, chunk, j));
    } else if (v == n - 1) {
      for (size_t j = 0; j < k; ++j)
        pb.recvReduce(prev, recvAt(j * chunk), sendAt(j * chunk), chunkLen(bytes, chunk, j));
    } else {
      p.scratchBytes = bytes;
      for (size_t j = 0; j <= k; ++j) {
        pb.nextPhase();
        if (j < k)
          pb.recvReduce(prev, scratchAt(j * chunk), sendAt(j * chunk), chunkLen(bytes, chunk, j));
        if (j > 0) pb.send(next, scratchAt((j - 1) * chunk), chunkLen(bytes, chunk, j - 1));
      }
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& chainBroadcast() {
  static const ChainBroadcast a;
  return a;
}
const Algorithm& chainReduce() {
  static const ChainReduce a;
  return a;
}

}  // namespace strata
