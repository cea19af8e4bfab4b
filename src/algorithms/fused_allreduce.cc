// The fused AllReduce (strataAllReduceFused, FlashComm 1): a ring ReduceScatter, the caller's
// epilogue on the shard this rank owns (plan callback 0), then a ring AllGather of the
// epilogue's output, optionally as low-bit values with one float32 scale per row.
//
// Shards fall on whole rows: rank k owns rows blockOf(rows, n, k), so a row count that nranks
// does not divide gives some ranks one row more instead of padding anything. Each shard is cut
// into the same number of blocks of whole rows (the last ones may be empty), the unit of the
// epilogue's calls and of the pipeline: the streaming variant sends every ring step block by
// block, so the first block of the owned shard is complete, and handed to the epilogue, while
// the later blocks are still arriving, and its gather starts as soon as its epilogue returns.
//
// Ring direction: at ReduceScatter step s rank r sends shard r-s-1 and reduces shard r-s-2, so
// after n-1 steps it holds shard r complete; the AllGather then passes shard r-s on at step s.
//
// On a full mesh the two-shot variant does the same in two steps over every link at once, like
// the `twoshot` AllReduce: shard j of every input goes straight to rank j, which reduces the n
// contributions in rank order, runs the epilogue on its shard and sends the result straight to
// every rank.
#include <algorithm>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/mesh_exchange.h"
#include "algorithms/patterns/blocks.h"
#include "algorithms/patterns/ring.h"
#include "base/dtype.h"
#include "base/quant_format.h"

namespace strata {
namespace {

using patterns::Block;
using patterns::blockOf;
using patterns::mod;

// About this many bytes of rows per epilogue block, and at most this many blocks per shard.
constexpr size_t kEpilogueBlockBytes = 256 * 1024;
constexpr int kMaxEpilogueBlocks = 16;

// Where every shard, block, value and scale of a call lies. Blocks are rows: offsets and counts
// in rows of `row` elements (one element per row without a row length).
class FusedLayout {
 public:
  FusedLayout(const CollArgs& a, int nranks)
      : n_(nranks),
        es_(dtypeSize(a.dtype)),
        row_(a.fused.rowElems > 0 ? a.fused.rowElems : 1),
        rows_(a.count / row_),
        quantized_(a.fused.quantized && a.fused.rowElems > 0),
        stored_(quantized_ ? quantStorageType(a.fused.quant) : a.dtype) {
    const size_t maxShard = (rows_ + static_cast<size_t>(n_) - 1) / static_cast<size_t>(n_);
    if (a.fused.rowElems > 0 && maxShard > 0) {
      const size_t perBlock = std::max<size_t>(1, kEpilogueBlockBytes / (row_ * es_));
      blocks_ = static_cast<int>(
          std::min<size_t>(kMaxEpilogueBlocks, (maxShard + perBlock - 1) / perBlock));
    }
    valueOffset_.assign(static_cast<size_t>(n_ * blocks_) + 1, 0);
    for (int k = 0; k < n_; ++k)
      for (int c = 0; c < blocks_; ++c) {
        const size_t i = static_cast<size_t>(k * blocks_ + c);
        valueOffset_[i + 1] =
            valueOffset_[i] + (quantized_ ? quantValueBytes(stored_, elems(block(k, c))) : 0);
      }
  }

  int blocks() const { return blocks_; }
  bool quantized() const { return quantized_; }
  strataDataType_t stored() const { return stored_; }
  size_t row() const { return row_; }
  size_t scratchBytes() const { return valueOffset_.back(); }
  size_t scalesBytes() const { return quantized_ ? rows_ * sizeof(float) : 0; }

  Block shard(int k) const { return blockOf(rows_, n_, mod(k, n_)); }
  Block block(int k, int c) const {
    const Block s = shard(k);
    Block b = blockOf(s.count, blocks_, c);
    b.offset += s.offset;
    return b;
  }
  size_t elems(Block rows) const { return rows.count * row_; }
  size_t bytes(Block rows) const { return elems(rows) * es_; }
  BufRef out(Block rows) const { return recvAt(rows.offset * row_ * es_); }
  BufRef in(Block rows) const { return sendAt(rows.offset * row_ * es_); }
  // The block scales of rows (one per row) and the quantised values of block c of shard k.
  BufRef scales(Block rows) const { return scalesAt(rows.offset * sizeof(float)); }
  size_t scaleBytes(Block rows) const { return quantized_ ? rows.count * sizeof(float) : 0; }
  BufRef values(int k, int c) const { return scratchAt(valueOffset_[index(k, c)]); }
  size_t valueBytes(int k, int c) const {
    return valueOffset_[index(k, c) + 1] - valueOffset_[index(k, c)];
  }
  // Shard k's values as one run (its blocks are consecutive).
  size_t shardValueBytes(int k) const {
    return valueOffset_[index(k, 0) + static_cast<size_t>(blocks_)] - valueOffset_[index(k, 0)];
  }

 private:
  size_t index(int k, int c) const { return static_cast<size_t>(mod(k, n_) * blocks_ + c); }

  int n_;
  size_t es_;
  size_t row_;
  size_t rows_;
  bool quantized_;
  strataDataType_t stored_;
  int blocks_ = 1;
  std::vector<size_t> valueOffset_;
};

void sizePlan(const FusedLayout& l, Plan& p) {
  p.scratchBytes = l.scratchBytes();
  p.scalesBytes = l.scalesBytes();
  p.callbackSlots = 1;
}

// The epilogue of block c of this rank's shard once `reduced` has completed: Avg's division,
// the caller's callback, and for a quantised gather the quantisation (the block's values and
// scales) and its dequantisation back into the output, so this rank holds what the others
// will. Returns the op the block's gather waits for.
OpId epilogue(PlanBuilder& pb, const CollArgs& a, const FusedLayout& l, int rank, int c,
              OpId reduced) {
  const Block b = l.block(rank, c);
  const size_t elems = l.elems(b);
  OpId last = reduced;
  if (a.op == strataAvg) last = pb.divide(l.out(b), elems, {last});
  last = pb.callback(0, l.out(b), elems, {last});
  if (!l.quantized()) return last;
  const OpId q = pb.quantize(l.out(b), a.dtype, l.values(rank, c), l.stored(), l.scales(b), l.row(),
                             elems, {last});
  pb.dequantize(l.values(rank, c), l.stored(), l.scales(b), l.row(), l.out(b), a.dtype, elems, {q});
  return q;
}

// One rank: the copy (out of place), then the epilogue of every block.
void singleRank(PlanBuilder& pb, const CollArgs& a, const FusedLayout& l) {
  const OpId copied =
      a.inPlace ? PlanBuilder::kNoOp : pb.copy(sendAt(0), recvAt(0), a.count * dtypeSize(a.dtype));
  for (int c = 0; c < l.blocks(); ++c) epilogue(pb, a, l, 0, c, copied);
}

// This rank's place on the ring of n ranks.
struct RingPlace {
  int n, r, right, left;
};

// Both variants size the plan from the layout and handle one rank alone; each plans its ring.
class FusedAlgorithm : public Algorithm {
 public:
  CollType coll() const override { return CollType::kAllReduceFused; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const FusedLayout l(a, s.nranks);
    sizePlan(l, p);
    PlanBuilder pb = builderFor(p, a);
    if (s.nranks == 1)
      singleRank(pb, a, l);
    else
      planRing(pb, a, l, {s.nranks, s.rank, mod(s.rank + 1, s.nranks), mod(s.rank - 1, s.nranks)});
    pb.finish();
    return Status::ok();
  }

 protected:
  virtual void planRing(PlanBuilder& pb, const CollArgs& a, const FusedLayout& l,
                        const RingPlace& rp) const = 0;
};

// Every ring step as a phase, whole shards per message (the sim's phase model and transports
// without forwarding ops); the epilogue runs in a phase of its own between the halves.
class RingFusedAllReduce final : public FusedAlgorithm {
 public:
  const char* name() const override { return "ring"; }
  const char* description() const override {
    return "ring ReduceScatter, the epilogue on the owned shard, ring AllGather (int8 with "
           "per-row scales when asked), one step per phase";
  }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }

 protected:
  void planRing(PlanBuilder& pb, const CollArgs& a, const FusedLayout& l,
                const RingPlace& rp) const override {
    const int n = rp.n, r = rp.r, right = rp.right, left = rp.left;
    for (int st = 0; st < n - 1; ++st) {
      pb.nextPhase();
      const Block sb = l.shard(r - st - 1);
      pb.send(right, st == 0 ? l.in(sb) : l.out(sb), l.bytes(sb));
      const Block rb = l.shard(r - st - 2);
      pb.recvReduce(left, l.out(rb), l.in(rb), l.bytes(rb));
    }
    pb.nextPhase();
    for (int c = 0; c < l.blocks(); ++c) epilogue(pb, a, l, r, c, PlanBuilder::kNoOp);
    for (int st = 0; st < n - 1; ++st) {
      pb.nextPhase();
      const int sk = r - st;
      const int rk = r - st - 1;
      if (!l.quantized()) {
        pb.send(right, l.out(l.shard(sk)), l.bytes(l.shard(sk)));
        pb.recv(left, l.out(l.shard(rk)), l.bytes(l.shard(rk)));
        continue;
      }
      pb.send(right, l.scales(l.shard(sk)), l.scaleBytes(l.shard(sk)));
      pb.send(right, l.values(sk, 0), l.shardValueBytes(sk));
      const OpId rs = pb.recv(left, l.scales(l.shard(rk)), l.scaleBytes(l.shard(rk)));
      const OpId rv = pb.recv(left, l.values(rk, 0), l.shardValueBytes(rk));
      for (int c = 0; c < l.blocks(); ++c) {
        const Block b = l.block(rk, c);
        pb.dequantize(l.values(rk, c), l.stored(), l.scales(b), l.row(), l.out(b), a.dtype,
                      l.elems(b), {rs, rv});
      }
    }
  }
};

// The same ring as one phase of forwarding ops, block by block: each block is reduced and sent
// on as it lands, the owned shard's blocks reach the epilogue one by one while the rest of the
// ReduceScatter streams in, and each block's gather starts when its epilogue returns.
class PipelinedRingFusedAllReduce final : public FusedAlgorithm {
 public:
  const char* name() const override { return "ringpipe"; }
  const char* description() const override {
    return "the fused ring as one phase of forwarding ops: the epilogue runs on each block of "
           "the owned shard as soon as it is reduced, overlapping the rest of the ReduceScatter";
  }
  bool supports(const CollArgs&, const CommShape& s) const override { return s.forwarding; }

 protected:
  void planRing(PlanBuilder& pb, const CollArgs& a, const FusedLayout& l,
                const RingPlace& rp) const override {
    const int n = rp.n, r = rp.r, right = rp.right, left = rp.left;
    const int nb = l.blocks();
    // ReduceScatter: our input of shard r-1 starts the ring; every other shard but our own is
    // reduced and passed on; our own lands last, block by block.
    for (int c = 0; c < nb; ++c) {
      const Block b = l.block(r - 1, c);
      pb.send(right, l.in(b), l.bytes(b));
    }
    for (int st = 0; st < n - 2; ++st)
      for (int c = 0; c < nb; ++c) {
        const Block b = l.block(r - st - 2, c);
        pb.recvReduceSend(left, right, l.out(b), l.in(b), l.bytes(b));
      }
    std::vector<OpId> ready(static_cast<size_t>(nb));
    for (int c = 0; c < nb; ++c) {
      const Block b = l.block(r, c);
      const OpId reduced = pb.recvReduce(left, l.out(b), l.in(b), l.bytes(b));
      ready[static_cast<size_t>(c)] = epilogue(pb, a, l, r, c, reduced);
    }
    // AllGather: our blocks leave as their epilogue finishes; the others are passed on.
    for (int c = 0; c < nb; ++c) {
      const Block b = l.block(r, c);
      const OpId after = ready[static_cast<size_t>(c)];
      if (l.quantized()) {
        pb.send(right, l.scales(b), l.scaleBytes(b), {after});
        pb.send(right, l.values(r, c), l.valueBytes(r, c), {after});
      } else {
        pb.send(right, l.out(b), l.bytes(b), {after});
      }
    }
    for (int st = 0; st < n - 1; ++st) {
      const int k = r - st - 1;
      const bool last = st == n - 2;
      for (int c = 0; c < nb; ++c) {
        const Block b = l.block(k, c);
        if (!l.quantized()) {
          if (last)
            pb.recv(left, l.out(b), l.bytes(b));
          else
            pb.recvCopySend(left, right, l.out(b), l.bytes(b));
          continue;
        }
        if (last) {
          const OpId sc = pb.recv(left, l.scales(b), l.scaleBytes(b));
          pb.recvDequantize(left, l.stored(), l.scales(b), l.row(), l.out(b), a.dtype, l.elems(b),
                            l.valueBytes(k, c), {sc});
          continue;
        }
        const OpId sc = pb.recvCopySend(left, right, l.scales(b), l.scaleBytes(b));
        const OpId va = pb.recvCopySend(left, right, l.values(k, c), l.valueBytes(k, c));
        pb.dequantize(l.values(k, c), l.stored(), l.scales(b), l.row(), l.out(b), a.dtype,
                      l.elems(b), {sc, va});
      }
    }
  }
};

// Two steps over the mesh: a direct ReduceScatter into this rank's shard (mesh_exchange.h), the
// epilogue on its blocks, then a direct AllGather of the shard (int8 values and per-row scales
// when asked) that starts once every block's epilogue has returned.
class TwoShotFusedAllReduce final : public Algorithm {
 public:
  const char* name() const override { return "twoshot"; }
  const char* description() const override {
    return "direct ReduceScatter over the mesh, the epilogue on the owned shard, direct "
           "AllGather (int8 with per-row scales when asked): two steps";
  }
  CollType coll() const override { return CollType::kAllReduceFused; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const FusedLayout l(a, s.nranks);
    sizePlan(l, p);
    PlanBuilder pb = builderFor(p, a);
    const int n = s.nranks, r = s.rank;
    if (n == 1) {
      singleRank(pb, a, l);
      pb.finish();
      return Status::ok();
    }
    // Shard 0 is the largest: one slot of its size per rank, after the quantised values.
    const size_t slotBytes = l.bytes(l.shard(0));
    p.scratchBytes = l.scratchBytes() + static_cast<size_t>(n) * slotBytes;
    const Block own = l.shard(r);
    const OpId reduced = meshReduceScatter(
        pb, r, n, [](int j) { return j; }, [&](int j) { return l.in(l.shard(j)); },
        [&](int j) { return l.bytes(l.shard(j)); }, slotBytes, l.scratchBytes(), l.out(own));
    // The blocks' epilogues in a chain, so the gather waits for the last one.
    OpId ready = reduced;
    for (int c = 0; c < l.blocks(); ++c) ready = epilogue(pb, a, l, r, c, ready);
    for (int k = 1; k < n; ++k) {
      const int to = mod(r + k, n), from = mod(r - k, n);
      const Block theirs = l.shard(from);
      if (!l.quantized()) {
        pb.send(to, l.out(own), l.bytes(own), {ready});
        pb.recv(from, l.out(theirs), l.bytes(theirs));
        continue;
      }
      pb.send(to, l.scales(own), l.scaleBytes(own), {ready});
      pb.send(to, l.values(r, 0), l.shardValueBytes(r), {ready});
      const OpId rs = pb.recv(from, l.scales(theirs), l.scaleBytes(theirs));
      const OpId rv = pb.recv(from, l.values(from, 0), l.shardValueBytes(from));
      for (int c = 0; c < l.blocks(); ++c) {
        const Block b = l.block(from, c);
        pb.dequantize(l.values(from, c), l.stored(), l.scales(b), l.row(), l.out(b), a.dtype,
                      l.elems(b), {rs, rv});
      }
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& twoShotFusedAllReduce() {
  static const TwoShotFusedAllReduce a;
  return a;
}

const Algorithm& ringFusedAllReduce() {
  static const RingFusedAllReduce a;
  return a;
}
const Algorithm& pipelinedRingFusedAllReduce() {
  static const PipelinedRingFusedAllReduce a;
  return a;
}

}  // namespace strata
