// Hierarchical (TopoComm) AllToAll on a two-level topology: level-0 aggregation, then level 1.
// Rank (g, i) is index i of group g among G groups of L ranks.
//   Level 0, L-1 pairwise steps inside the group: to index j go this rank's blocks bound for
//   index j of every group; from index j come its blocks bound for index i of every group (those
//   for this group land in recvbuff, the others are staged by destination group).
//   Level 1, G-1 pairwise steps among the index-i ranks: to group h goes, as one message, the L
//   blocks its index-i rank gets from this group; from group h come the L blocks this rank gets
//   from it.
// The slow level carries G-1 messages of L blocks per rank instead of the flat exchange's
// (G-1) x L messages of one block: the same bytes, L times fewer synchronisations.
#include "algorithms/hierarchical.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::mod;

class HierAllToAll final : public HierAlgorithm {
 public:
  const char* description() const override {
    return "level0 pairwise exchange aggregating each destination group's blocks, then one "
           "message of L blocks per group among same-index ranks at level1";
  }
  CollType coll() const override { return CollType::kAllToAll; }

 protected:
  Status planLevels(const CollArgs& a, const CommShape& s, const TwoLevels& t,
                    Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const auto L = static_cast<size_t>(t.size);
    const size_t n = static_cast<size_t>(s.nranks);
    // Scratch: the input (in place only: recvbuff is overwritten while blocks still leave),
    // the blocks staged by destination group, and (groups of non-consecutive ranks) what
    // level 1 receives before it is spread over recvbuff.
    const size_t stagedAt = 0;
    const size_t byGroupAt = a.inPlace ? n * bytes : 0;
    const size_t landedAt = byGroupAt + n * bytes;
    p.scratchBytes = landedAt + (t.consecutive ? 0 : n * bytes);
    auto in = [&](int rank) {
      const size_t off = static_cast<size_t>(rank) * bytes;
      return a.inPlace ? scratchAt(stagedAt + off) : sendAt(off);
    };
    auto out = [&](int rank) { return recvAt(static_cast<size_t>(rank) * bytes); };
    // The block from index j of this group bound for index i of group h.
    auto byGroup = [&](int h, int j) {
      return scratchAt(byGroupAt + (static_cast<size_t>(mod(h, t.groups)) * L +
                                    static_cast<size_t>(mod(j, t.size))) *
                                       bytes);
    };
    auto landed = [&](int j) { return scratchAt(landedAt + static_cast<size_t>(j) * bytes); };

    PlanBuilder pb = builderFor(p, a);
    if (a.inPlace) {
      pb.copy(sendAt(0), scratchAt(stagedAt), n * bytes);
      pb.nextPhase();
    }
    pb.copy(in(s.rank), out(s.rank), bytes);
    for (int h = 0; h < t.groups; ++h)
      if (h != t.g) pb.copy(in(t.at(h, t.i)), byGroup(h, t.i), bytes);
    for (int k = 1; k < t.size; ++k) {
      if (k > 1) pb.nextPhase();  // the local copies share the first step's phase
      const int to = t.at(t.g, t.i + k), from = t.at(t.g, t.i - k);
      for (int h = 0; h < t.groups; ++h) pb.send(to, in(t.at(h, t.i + k)), bytes);
      for (int h = 0; h < t.groups; ++h)
        pb.recv(from, h == t.g ? out(from) : byGroup(h, t.i - k), bytes);
    }
    for (int k = 1; k < t.groups; ++k) {
      pb.nextPhase();
      const int to = t.at(t.g + k, t.i), from = t.at(t.g - k, t.i);
      pb.send(to, byGroup(t.g + k, 0), L * bytes);
      if (t.consecutive) {
        pb.recv(from, out(t.at(t.g - k, 0)), L * bytes);
        continue;
      }
      const OpId got = pb.recv(from, landed(0), L * bytes);
      for (int j = 0; j < t.size; ++j) pb.copy(landed(j), out(t.at(t.g - k, j)), bytes, {got});
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& hierAllToAll() {
  static const HierAllToAll a;
  return a;
}

}  // namespace strata
