#include "moe/moe_timing.h"

#include <vector>

#include "moe/moe_plans.h"
#include "transports/sim/sim_transport.h"

namespace strata {

Result<MoeSimResult> evaluateMoeTimingOnly(const Topology& topo, const MoeShape& shape,
                                           const size_t* tokensSent) {
  const int n = shape.nranks;
  const auto nn = static_cast<size_t>(n);
  auto sent = [&](int s, int d) {
    return tokensSent[static_cast<size_t>(s) * nn + static_cast<size_t>(d)];
  };
  for (int s = 0; s < n; ++s)
    for (int d = 0; d < n; ++d)
      if (sent(s, d) > shape.maxTokens)
        return makeError(strataInvalidArgument,
                         "tokensSent[%d][%d] = %zu is above maxTokensPerRank %zu", s, d, sent(s, d),
                         shape.maxTokens);
  const size_t drec = shape.dispatchRecordBytes();
  const size_t crec = shape.combineRecordBytes();
  std::vector<PlanPtr> dispatch, combine;
  std::vector<size_t> sendBytes(nn), recvBytes(nn);
  for (int r = 0; r < n; ++r) {
    for (int p = 0; p < n; ++p) {
      sendBytes[static_cast<size_t>(p)] = shape.dispatchHeaderBytes() + sent(r, p) * drec;
      recvBytes[static_cast<size_t>(p)] = shape.dispatchHeaderBytes() + sent(p, r) * drec;
    }
    dispatch.push_back(
        moeExchangePlan("moe-dispatch", r, n, shape.dispatchSlotBytes(), sendBytes, recvBytes));
    for (int p = 0; p < n; ++p) {
      sendBytes[static_cast<size_t>(p)] = kMoeHeaderBytes + sent(p, r) * crec;
      recvBytes[static_cast<size_t>(p)] = kMoeHeaderBytes + sent(r, p) * crec;
    }
    combine.push_back(
        moeExchangePlan("moe-combine", r, n, shape.combineSlotBytes(), sendBytes, recvBytes));
  }
  MoeSimResult out;
  STRATA_ASSIGN(out.dispatch, evaluatePlans(topo, dispatch, kSimChunkBytes));
  STRATA_ASSIGN(out.combine, evaluatePlans(topo, combine, kSimChunkBytes));
  return out;
}

}  // namespace strata
