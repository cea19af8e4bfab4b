// Pipelined ring AllReduce and AllGather: the whole ring runs as one phase of forwarding ops, so
// each chunk is reduced (or copied) and sent on to the next rank while it is still in cache, and
// no rank waits for a step to end before starting the next one. The same schedule as the ring
// (patterns/ring.h), written as a pipeline.
#include "algorithms/algorithm.h"
#include "algorithms/patterns/blocks.h"
#include "algorithms/patterns/ring.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::blockOf;
using patterns::Ring;

class PipelinedRingAllReduce final : public Algorithm {
 public:
  const char* name() const override { return "ringpipe"; }
  const char* description() const override {
    return "the ring AllReduce as one phase of forwarding ops: each chunk is reduced and sent on "
           "as it lands";
  }
  CollType coll() const override { return CollType::kAllReduce; }
  bool supports(const CollArgs&, const CommShape& s) const override { return s.forwarding; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t es = dtypeSize(a.dtype);
    const int n = s.nranks;
    const Ring ring{s.rank, n};
    auto out = [&](int b) { return recvAt(blockOf(a.count, n, b).offset * es); };
    auto in = [&](int b) { return sendAt(blockOf(a.count, n, b).offset * es); };
    auto len = [&](int b) { return blockOf(a.count, n, b).count * es; };
    PlanBuilder pb = builderFor(p, a);
    if (n == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), a.count * es);
      pb.finish();
      return Status::ok();
    }
    // Reduce-scatter: our own block starts the ring; every block received is reduced with our
    // input and sent on. The last one is complete and starts the all-gather.
    pb.send(ring.right(), in(ring.rsSendBlock(0)), len(ring.rsSendBlock(0)));
    for (int st = 0; st < n - 1; ++st) {
      const int b = ring.rsRecvBlock(st);
      pb.recvReduceSend(ring.left(), ring.right(), out(b), in(b), len(b));
    }
    // All-gather: complete blocks arrive and are passed on, except the last.
    for (int st = 0; st < n - 1; ++st) {
      const int b = ring.agRecvBlock(st);
      if (st < n - 2)
        pb.recvCopySend(ring.left(), ring.right(), out(b), len(b));
      else
        pb.recv(ring.left(), out(b), len(b));
    }
    pb.finish();
    return Status::ok();
  }
};

class PipelinedRingAllGather final : public Algorithm {
 public:
  const char* name() const override { return "ringpipe"; }
  const char* description() const override {
    return "the ring AllGather as one phase of forwarding ops";
  }
  CollType coll() const override { return CollType::kAllGather; }
  bool supports(const CollArgs&, const CommShape& s) const override { return s.forwarding; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int n = s.nranks;
    const Ring ring{s.rank, n};
    auto out = [&](int b) { return recvAt(static_cast<size_t>(b) * bytes); };
    PlanBuilder pb = builderFor(p, a);
    if (!a.inPlace) pb.copy(sendAt(0), out(s.rank), bytes);
    if (n > 1) pb.send(ring.right(), sendAt(0), bytes);
    for (int st = 0; st < n - 1; ++st) {
      const int b = patterns::mod(s.rank - st - 1, n);
      if (st < n - 2)
        pb.recvCopySend(ring.left(), ring.right(), out(b), bytes);
      else
        pb.recv(ring.left(), out(b), bytes);
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& pipelinedRingAllReduce() {
  static const PipelinedRingAllReduce a;
  return a;
}
const Algorithm& pipelinedRingAllGather() {
  static const PipelinedRingAllGather a;
  return a;
}

}  // namespace strata
