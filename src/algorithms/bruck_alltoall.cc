// Bruck AllToAll: ceil(log2 n) steps for any n, for small blocks. The input is rotated into
// scratch so that slot j holds the block bound for rank r+j; in the step at distance d = 2^k
// every slot whose index has bit k set is packed into one message to rank r+d, and the same
// slots come back, from rank r-d, unpacked into place; at the end slot j holds the block from
// rank r-j. Each block travels up to log2 n times, so it moves more bytes than the pairwise
// exchange, in log2 n messages per rank instead of n-1.
#include <algorithm>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/patterns/ring.h"
#include "base/dtype.h"

namespace strata {
namespace {

using patterns::mod;

class BruckAllToAll final : public Algorithm {
 public:
  const char* name() const override { return "bruck"; }
  const char* description() const override {
    return "log2(n) steps for any n: the slots whose index has bit k set travel together in "
           "step k; small blocks";
  }
  CollType coll() const override { return CollType::kAllToAll; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const size_t bytes = a.count * dtypeSize(a.dtype);
    const int n = s.nranks, r = s.rank;
    const auto nb = static_cast<size_t>(n) * bytes;
    PlanBuilder pb = builderFor(p, a);
    if (n == 1) {
      if (!a.inPlace) pb.copy(sendAt(0), recvAt(0), bytes);
      pb.finish();
      return Status::ok();
    }
    // Scratch: the slots, the packed message out, the packed message in.
    p.scratchBytes = 3 * nb;
    auto slot = [&](int j) { return scratchAt(static_cast<size_t>(j) * bytes); };
    auto packed = [&](size_t i) { return scratchAt(nb + i * bytes); };
    auto landed = [&](size_t i) { return scratchAt(2 * nb + i * bytes); };
    for (int j = 0; j < n; ++j)
      pb.copy(sendAt(static_cast<size_t>(mod(r + j, n)) * bytes), slot(j), bytes);
    // The op of the current phase that wrote each slot (earlier phases are complete): packing
    // and the final rotation wait for it.
    std::vector<OpId> wrote(static_cast<size_t>(n));
    std::vector<int> moving;
    auto unpack = [&] {
      std::fill(wrote.begin(), wrote.end(), PlanBuilder::kNoOp);
      for (size_t i = 0; i < moving.size(); ++i)
        wrote[static_cast<size_t>(moving[i])] = pb.copy(landed(i), slot(moving[i]), bytes);
    };
    for (int d = 1; d < n; d <<= 1) {
      pb.nextPhase();
      // Unpack the previous step's message, then pack this step's slots.
      unpack();
      moving.clear();
      for (int j = 1; j < n; ++j)
        if ((j & d) != 0) moving.push_back(j);
      for (size_t i = 0; i < moving.size(); ++i)
        pb.copy(slot(moving[i]), packed(i), bytes, {wrote[static_cast<size_t>(moving[i])]});
      pb.nextPhase();
      pb.send(mod(r + d, n), packed(0), moving.size() * bytes);
      pb.recv(mod(r - d, n), landed(0), moving.size() * bytes);
    }
    pb.nextPhase();
    unpack();
    for (int j = 0; j < n; ++j)
      pb.copy(slot(j), recvAt(static_cast<size_t>(mod(r - j, n)) * bytes), bytes,
              {wrote[static_cast<size_t>(j)]});
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& bruckAllToAll() {
  static const BruckAllToAll a;
  return a;
}

}  // namespace strata
