// Hierarchical (TopoComm) AllReduce, AllGather and ReduceScatter on a two-level topology: level
// 0 inside each group (a host's shared memory, a server's mesh), level 1 among the ranks that
// hold the same index in their groups (one rank per group, so the slow level carries 1/L of the
// data per rank instead of a flat ring crossing it at every step):
//   AllReduce      level0 direct ReduceScatter over the group's mesh -> level1 AllReduce of the
//                  owned block (a ring; with two groups one merged exchange) -> level0 direct
//                  AllGather
//   AllGather      level0 ring, then level1 ring moving whole groups' blocks
//   ReduceScatter  level1 ring on groups' blocks, then level0 ring
// Each step is one phase with one message per peer (a group's blocks travel as one message when
// its ranks are consecutive), and no step waits for anything but its own messages: there is no
// barrier between the levels. Eligible when the topology has more than one level and its level-0
// groups all hold the same number (>= 2) of ranks, with at least two groups.
#include <optional>
#include <vector>

#include "algorithms/hierarchical.h"
#include "algorithms/mesh_exchange.h"
#include "algorithms/patterns/blocks.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::Block;
using patterns::blockOf;
using patterns::mod;

class HierAllReduce final : public HierAlgorithm {
 public:
  const char* description() const override {
    return "level0 direct ReduceScatter over the group's mesh, level1 AllReduce among same-index "
           "ranks of the groups (ring; one exchange for two groups), level0 direct AllGather: "
           "the slow level carries 1/L of the data";
  }
  CollType coll() const override { return CollType::kAllReduce; }

 protected:
  Status planLevels(const CollArgs& a, const CommShape&, const TwoLevels& t,
                    Plan& p) const override {
    const size_t es = dtypeSize(a.dtype);
    auto blk = [&](int j) { return blockOf(a.count, t.size, mod(j, t.size)); };
    auto out = [&](Block b) { return recvAt(b.offset * es); };
    auto in = [&](Block b) { return sendAt(b.offset * es); };
    auto len = [&](Block b) { return b.count * es; };
    const Block own = blk(t.i);
    auto sub = [&](int m) {
      Block b = blockOf(own.count, t.groups, mod(m, t.groups));
      b.offset += own.offset;
      return b;
    };
    PlanBuilder pb = builderFor(p, a);
    const int right1 = t.right1(), left1 = t.left1();
    // Level 0 ReduceScatter over the group's mesh: index i ends owning block i, reduced over its
    // group in index order (into scratch when level 1 merges its steps, below).
    const bool merged = t.groups == 2;
    const size_t slotBytes = len(blk(0));
    const size_t partialAt = static_cast<size_t>(t.size) * slotBytes;
    p.scratchBytes = partialAt + (merged ? len(own) : 0);
    const BufRef partial = merged ? scratchAt(partialAt) : out(own);
    meshReduceScatter(
        pb, t.i, t.size, [&](int j) { return t.at(t.g, j); }, [&](int j) { return in(blk(j)); },
        [&](int j) { return len(blk(j)); }, slotBytes, 0, partial);
    // Level 1 AllReduce of block i among the groups' index-i ranks. Two groups: the ring's
    // ReduceScatter step and AllGather step would touch the same peer one after the other, so
    // they are merged into one exchange of the whole block (the same bytes, one synchronisation
    // instead of two) that reduces the two groups' sums into recvbuff in group order, so both
    // ranks hold bit-identical results. More groups: a ring.
    if (merged) {
      pb.nextPhase();
      const int other = t.at(t.g + 1, t.i);
      pb.send(other, partial, len(own));
      pb.recvReduce(other, out(own), partial, len(own), /*incomingFirst=*/t.g == 1);
    }
    for (int st = 0; !merged && st < t.groups - 1; ++st) {
      pb.nextPhase();
      pb.send(right1, out(sub(t.g - st - 1)), len(sub(t.g - st - 1)));
      const Block rb = sub(t.g - st - 2);
      pb.recvReduce(left1, out(rb), out(rb), len(rb));
    }
    for (int st = 0; !merged && st < t.groups - 1; ++st) {
      pb.nextPhase();
      pb.send(right1, out(sub(t.g - st)), len(sub(t.g - st)));
      pb.recv(left1, out(sub(t.g - st - 1)), len(sub(t.g - st - 1)));
    }
    // Level 0 AllGather of the complete blocks over the group's mesh.
    pb.nextPhase();
    for (int k = 1; k < t.size; ++k) {
      pb.send(t.at(t.g, t.i + k), out(own), len(own));
      pb.recv(t.at(t.g, t.i - k), out(blk(t.i - k)), len(blk(t.i - k)));
    }
    pb.finish();
    return Status::ok();
  }
};

// Sends (or receives) group h's blocks of `bytes` each, at slot offsets k * bytes for each of
// its ranks k (or at base + j * bytes when `packed`): one message when the group's ranks are
// consecutive.
template <typename Each>
void groupBlocks(const TwoLevels& t, int h, Each&& each) {
  if (t.consecutive) {
    each(t.at(h, 0), 0, t.size);
    return;
  }
  for (int j = 0; j < t.size; ++j) each(t.at(h, j), j, 1);
}

class HierAllGather final : public HierAlgorithm {
 public:
  const char* description() const override {
    return "level0 ring inside each group, then a level1 ring among same-index ranks moving "
           "whole groups' blocks";
  }
  CollType coll() const override { return CollType::kAllGather; }

 protected:
  Status planLevels(const CollArgs& a, const CommShape& s, const TwoLevels& t,
                    Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    auto out = [&](int k) { return recvAt(static_cast<size_t>(k) * bytes); };
    PlanBuilder pb = builderFor(p, a);
    if (!a.inPlace) pb.copy(sendAt(0), out(s.rank), bytes);
    const int right0 = t.right0(), left0 = t.left0(), right1 = t.right1(), left1 = t.left1();
    for (int st = 0; st < t.size - 1; ++st) {
      pb.nextPhase();
      pb.send(right0, out(t.at(t.g, t.i - st)), bytes);
      pb.recv(left0, out(t.at(t.g, t.i - st - 1)), bytes);
    }
    for (int st = 0; st < t.groups - 1; ++st) {
      pb.nextPhase();
      groupBlocks(t, t.g - st, [&](int k, int, int n) {
        pb.send(right1, out(k), bytes * static_cast<size_t>(n));
      });
      groupBlocks(t, t.g - st - 1, [&](int k, int, int n) {
        pb.recv(left1, out(k), bytes * static_cast<size_t>(n));
      });
    }
    pb.finish();
    return Status::ok();
  }
};

class HierReduceScatter final : public HierAlgorithm {
 public:
  const char* description() const override {
    return "level1 ring among same-index ranks reducing whole groups' blocks, then a level0 "
           "ring inside each group";
  }
  CollType coll() const override { return CollType::kReduceScatter; }

 protected:
  Status planLevels(const CollArgs& a, const CommShape&, const TwoLevels& t,
                    Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const auto L = static_cast<size_t>(t.size);
    auto in = [&](int k) { return sendAt(static_cast<size_t>(k) * bytes); };
    // Scratch: two level-1 accumulators of a group's L blocks, then the level-1 result S.
    auto acc = [&](int x, int j) {
      return scratchAt((static_cast<size_t>(x) * L + static_cast<size_t>(j)) * bytes);
    };
    auto res = [&](int j) {
      return scratchAt((2 * L + static_cast<size_t>(mod(j, t.size))) * bytes);
    };
    p.scratchBytes = 3 * L * bytes;
    PlanBuilder pb = builderFor(p, a);
    const int right0 = t.right0(), left0 = t.left0(), right1 = t.right1(), left1 = t.left1();
    // Level 1: group h's blocks travel the ring of index-i ranks, reduced at every hop; after
    // G-1 steps this rank holds its own group's blocks reduced over its index column.
    for (int st = 0; st < t.groups - 1; ++st) {
      pb.nextPhase();
      const bool last = st == t.groups - 2;
      groupBlocks(t, t.g - st - 1, [&](int k, int j, int n) {
        pb.send(right1, st == 0 ? in(k) : acc((st - 1) % 2, j), bytes * static_cast<size_t>(n));
      });
      groupBlocks(t, t.g - st - 2, [&](int k, int j, int n) {
        pb.recvReduce(left1, last ? res(j) : acc(st % 2, j), in(k), bytes * static_cast<size_t>(n));
      });
    }
    // Level 0: a ring ReduceScatter of the group's L blocks; block i lands in recvbuff.
    for (int st = 0; st < t.size - 1; ++st) {
      pb.nextPhase();
      pb.send(right0, st == 0 ? res(t.i - st - 1) : acc(0, (st - 1) % 2), bytes);
      const int rj = t.i - st - 2;
      pb.recvReduce(left0, st == t.size - 2 ? recvAt(0) : acc(0, st % 2), res(rj), bytes);
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& hierAllReduce() {
  static const HierAllReduce a;
  return a;
}
const Algorithm& hierAllGather() {
  static const HierAllGather a;
  return a;
}
const Algorithm& hierReduceScatter() {
  static const HierReduceScatter a;
  return a;
}

}  // namespace strata
