// Hierarchical (TopoComm) AllToAllv on a two-level topology: level-0 aggregation, then level 1,
// as the hierarchical AllToAll (hier_alltoall.cc) with counts per pair. Rank (g, i) is index i
// of group g among G groups of L ranks.
//   Level 0, L-1 pairwise steps inside the group: to index j go this rank's blocks bound for
//   index j of every group; from index j come its blocks bound for index i of every group (those
//   for this group land in recvbuff, the others are packed by destination group).
//   Level 1, G-1 pairwise steps among the index-i ranks: to group h goes, as one message, what
//   this group's ranks send to h's index-i rank; from group h comes what h's ranks send here.
// A rank knows only its own counts, and the rank that packs for index i must know what its
// group's other ranks send there: the algorithm asks for the group's send counts
// (CollArgs::groupSendCounts), which the runtime exchanges over level 0 before planning. Without
// them (pricing), every member is taken to send as this rank does.
#include <algorithm>

#include "algorithms/hierarchical.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::mod;

class HierAllToAllv final : public HierAlgorithm {
 public:
  const char* description() const override {
    return "level0 pairwise exchange packing each destination group's blocks, then one message "
           "per group among same-index ranks at level1 (counts per pair; the group's send "
           "counts are exchanged at level0 first)";
  }
  CollType coll() const override { return CollType::kAllToAllv; }
  bool needsGroupCounts() const override { return true; }

 protected:
  Status planLevels(const CollArgs& a, const CommShape& s, const TwoLevels& t,
                    Plan& p) const override {
    const size_t es = dtypeSize(a.dtype);
    const auto n = static_cast<size_t>(s.nranks);
    const auto L = static_cast<size_t>(t.size);
    const auto G = static_cast<size_t>(t.groups);
    const bool exchanged = !a.groupSendCounts.empty();
    if (exchanged && a.groupSendCounts.size() != L * n) {
      return makeError(strataInternalError, "hier AllToAllv: %zu group send counts for %zu x %zu",
                       a.groupSendCounts.size(), L, n);
    }
    // Elements index j of this group sends to rank y.
    auto sent = [&](int j, int y) {
      const auto jj = static_cast<size_t>(mod(j, t.size)), yy = static_cast<size_t>(y);
      return exchanged ? a.groupSendCounts[jj * n + yy] : a.sendcounts[yy];
    };
    auto rs = [](int r) { return static_cast<size_t>(r); };

    // Scratch: the input (in place only), then for each other group h the blocks this group's
    // ranks send to h's index-i rank, packed in index order, then (when what level 1 brings
    // does not lie packed in recvbuff) a landing area.
    size_t extent = 0;
    for (size_t y = 0; y < n; ++y) extent = std::max(extent, a.sdispls[y] + a.sendcounts[y]);
    const size_t stagedBytes = a.inPlace ? extent * es : 0;
    std::vector<size_t> groupAt(G + 1, 0);  // bytes, from the start of the packed area
    std::vector<std::vector<size_t>> pieceAt(G, std::vector<size_t>(L, 0));
    for (int h = 0; h < t.groups; ++h) {
      size_t off = groupAt[rs(h)];
      for (int j = 0; j < t.size; ++j) {
        pieceAt[rs(h)][rs(j)] = off;
        if (h != t.g) off += sent(j, t.at(h, t.i)) * es;
      }
      groupAt[rs(h) + 1] = off;
    }
    const size_t packedAt = stagedBytes;
    const size_t landedAt = packedAt + groupAt[G];
    // What level 1 brings from group h, and whether it lies packed in recvbuff.
    auto fromGroup = [&](int h) {
      size_t total = 0;
      for (int j = 0; j < t.size; ++j) total += a.recvcounts[rs(t.at(h, j))];
      return total * es;
    };
    auto packedInRecv = [&](int h) {
      for (int j = 0; j + 1 < t.size; ++j) {
        const size_t r = rs(t.at(h, j));
        if (a.rdispls[rs(t.at(h, j + 1))] != a.rdispls[r] + a.recvcounts[r]) return false;
      }
      return true;
    };
    size_t landing = 0;
    for (int h = 0; h < t.groups; ++h)
      if (h != t.g && !packedInRecv(h)) landing = std::max(landing, fromGroup(h));
    p.scratchBytes = landedAt + landing;

    auto in = [&](int y) {
      const size_t off = a.sdispls[rs(y)] * es;
      return a.inPlace ? scratchAt(off) : sendAt(off);
    };
    auto out = [&](int y) { return recvAt(a.rdispls[rs(y)] * es); };
    auto piece = [&](int h, int j) {
      return scratchAt(packedAt + pieceAt[rs(mod(h, t.groups))][rs(mod(j, t.size))]);
    };

    PlanBuilder pb = builderFor(p, a);
    if (a.inPlace) {
      pb.copy(sendAt(0), scratchAt(0), stagedBytes);
      pb.nextPhase();
    }
    pb.copy(in(s.rank), out(s.rank), a.sendcounts[rs(s.rank)] * es);
    for (int h = 0; h < t.groups; ++h) {
      const int y = t.at(h, t.i);
      if (h != t.g) pb.copy(in(y), piece(h, t.i), a.sendcounts[rs(y)] * es);
    }
    for (int k = 1; k < t.size; ++k) {
      if (k > 1) pb.nextPhase();  // the local copies share the first step's phase
      const int to = t.at(t.g, t.i + k), from = t.at(t.g, t.i - k);
      for (int h = 0; h < t.groups; ++h) {
        const int y = t.at(h, t.i + k);
        pb.send(to, in(y), a.sendcounts[rs(y)] * es);
      }
      for (int h = 0; h < t.groups; ++h) {
        if (h == t.g) {
          pb.recv(from, out(from), a.recvcounts[rs(from)] * es);
        } else {
          pb.recv(from, piece(h, t.i - k), sent(t.i - k, t.at(h, t.i)) * es);
        }
      }
    }
    for (int k = 1; k < t.groups; ++k) {
      pb.nextPhase();
      const int h = mod(t.g + k, t.groups), hf = mod(t.g - k, t.groups);
      pb.send(t.at(h, t.i), piece(h, 0), groupAt[rs(h) + 1] - groupAt[rs(h)]);
      const int from = t.at(hf, t.i);
      if (packedInRecv(hf)) {
        pb.recv(from, out(t.at(hf, 0)), fromGroup(hf));
        continue;
      }
      const OpId got = pb.recv(from, scratchAt(landedAt), fromGroup(hf));
      size_t off = 0;
      for (int j = 0; j < t.size; ++j) {
        const int y = t.at(hf, j);
        pb.copy(scratchAt(landedAt + off), out(y), a.recvcounts[rs(y)] * es, {got});
        off += a.recvcounts[rs(y)] * es;
      }
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& hierAllToAllv() {
  static const HierAllToAllv a;
  return a;
}

}  // namespace strata
