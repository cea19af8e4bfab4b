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

// The call's message cut into pipeline chunks of whole elements, the last one shorter.
struct Chunks {
  size_t bytes;  // the message
  size_t size;   // one chunk
  size_t count;
  size_t at(size_t j) const { return j * size; }
  size_t len(size_t j) const {
    const size_t off = at(j);
    return off >= bytes ? 0 : std::min(size, bytes - off);
  }
};

Chunks chunksOf(const CollArgs& a, const CommShape& s) {
  const size_t es = dtypeSize(a.dtype);
  const size_t bytes = a.count * es;
  const size_t size = std::max(es, s.chunkBytes / es * es);
  return {bytes, size, chunksFor(bytes, size)};
}

// The head of the chain streams every chunk of its input to the next rank in one phase.
void sendChunks(PlanBuilder& pb, int next, const Chunks& c) {
  for (size_t j = 0; j < c.count; ++j) pb.send(next, sendAt(c.at(j)), c.len(j));
}

// A middle rank of the chain: every hop moves the same chunk messages, so it passes chunk j-1
// on while chunk j arrives, one phase per chunk.
template <class Arrive, class PassOn>
void relayChunks(PlanBuilder& pb, const Chunks& c, Arrive arrive, PassOn passOn) {
  for (size_t j = 0; j <= c.count; ++j) {
    pb.nextPhase();
    if (j < c.count) arrive(j);
    if (j > 0) passOn(j - 1);
  }
}

class ChainBroadcast final : public Algorithm {
 public:
  const char* name() const override { return "chain"; }
  const char* description() const override {
    return "chunks flow along a chain from the root, every link busy once the pipeline fills";
  }
  CollType coll() const override { return CollType::kBroadcast; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const Chunks c = chunksOf(a, s);
    const int n = s.nranks;
    const int v = mod(s.rank - a.root, n);
    const patterns::Ring ring{s.rank, n};
    PlanBuilder pb = builderFor(p, a);
    if (v == 0) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), c.bytes);
      if (n > 1) sendChunks(pb, ring.right(), c);
    } else if (v == n - 1) {
      for (size_t j = 0; j < c.count; ++j) pb.recv(ring.left(), recvAt(c.at(j)), c.len(j));
    } else {
      relayChunks(
          pb, c, [&](size_t j) { pb.recv(ring.left(), recvAt(c.at(j)), c.len(j)); },
          [&](size_t j) { pb.send(ring.right(), recvAt(c.at(j)), c.len(j)); });
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
    const Chunks c = chunksOf(a, s);
    const int n = s.nranks;
    const int v = mod(s.rank - a.root - 1, n);  // the root is last in the chain
    const patterns::Ring ring{s.rank, n};
    PlanBuilder pb = builderFor(p, a);
    if (n == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), c.bytes);
    } else if (v == 0) {
      sendChunks(pb, ring.right(), c);
    } else if (v == n - 1) {
      for (size_t j = 0; j < c.count; ++j)
        pb.recvReduce(ring.left(), recvAt(c.at(j)), sendAt(c.at(j)), c.len(j));
    } else {
      p.scratchBytes = c.bytes;
      relayChunks(
          pb, c,
          [&](size_t j) {
            pb.recvReduce(ring.left(), scratchAt(c.at(j)), sendAt(c.at(j)), c.len(j));
          },
          [&](size_t j) { pb.send(ring.right(), scratchAt(c.at(j)), c.len(j)); });
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
