#include "moe/moe_timing.h"

#include <vector>

#include "moe/moe_plans.h"
#include "moe/moe_route.h"
#include "transports/sim/sim_transport.h"

namespace strata {

namespace {

// Rank me's two plans on the two-level route, their ops in the order MoeBuffer lists them.
void hierPlans(const TwoLevels& t, const MoeShape& shape, int n, const size_t* tokensSent,
               const size_t* tokensToGroup, std::vector<PlanPtr>& dispatch,
               std::vector<PlanPtr>& combine) {
  const auto rs = [](int r) { return static_cast<size_t>(r); };
  const auto nn = rs(n);
  const auto G = rs(t.groups);
  const int me = t.at(t.g, t.i);
  auto sent = [&](int s, int d) { return tokensSent[rs(s) * nn + rs(d)]; };
  auto toGroup = [&](int s, int h) { return tokensToGroup[rs(s) * G + rs(h)]; };
  const size_t hdr = shape.dispatchHeaderBytes(), drec = shape.dispatchRecordBytes();
  const size_t gh = kMoeHeaderBytes + rs(t.size) * hdr;
  const size_t crec = shape.combineRecordBytes(), ch = kMoeHeaderBytes;
  // Offsets do not matter for timing: every transfer at 0.
  auto at0 = [](size_t bytes) { return MoeTransfer{0, bytes, false}; };
  auto join = [](const PlanPtr& a, const PlanPtr& b) -> PlanPtr {
    if (!a) return b;
    if (!b) return a;
    auto p = std::make_shared<Plan>(*a);
    p->phases.insert(p->phases.end(), b->phases.begin(), b->phases.end());
    return p;
  };
  std::vector<MoePeerTransfer> s1, r1, s2, r2;
  // Dispatch, hop 1: this group directly, the other groups' gateways on this rank's rail.
  for (int d = 1; d < t.size; ++d) {
    const int to = t.at(t.g, t.i + d), from = t.at(t.g, t.i - d);
    s1.push_back({to, at0(hdr + sent(me, to) * drec)});
    r1.push_back({from, at0(hdr + sent(from, me) * drec)});
  }
  for (int d = 1; d < t.groups; ++d) {
    const int hto = (t.g + d) % t.groups, hfrom = (t.g - d + t.groups) % t.groups;
    s1.push_back({t.at(hto, t.i), at0(gh + toGroup(me, hto) * drec)});
    r1.push_back({t.at(hfrom, t.i), at0(gh + toGroup(t.at(hfrom, t.i), t.g) * drec)});
  }
  // Hop 2: the gateway's pieces to this group.
  for (int d = 1; d < t.groups; ++d) {
    const int h = (t.g + d) % t.groups;
    for (int j = 0; j < t.size; ++j) {
      const int r = t.at(t.g, j);
      if (r != me) s2.push_back({r, at0(hdr + sent(t.at(h, t.i), r) * drec)});
    }
  }
  for (int d = 1; d < t.size; ++d) {
    const int from = t.at(t.g, t.i - d);
    const int jf = (t.i - d + t.size) % t.size;
    for (int e = 1; e < t.groups; ++e)
      r2.push_back({from, at0(hdr + sent(t.at((t.g + e) % t.groups, jf), me) * drec)});
  }
  dispatch.push_back(join(moeTransferPlan("moe-dispatch-hier", n, s1, r1),
                          moeTransferPlan("moe-dispatch-hier", n, s2, r2)));
  s1.clear(), r1.clear(), s2.clear(), r2.clear();
  // Combine, hop 1: this group's sums straight back, then those for the sources each
  // group-mate is the gateway of.
  for (int d = 1; d < t.size; ++d) {
    const int to = t.at(t.g, t.i + d), from = t.at(t.g, t.i - d);
    const int jto = (t.i + d) % t.size;
    s1.push_back({to, at0(ch + sent(to, me) * crec)});
    r1.push_back({from, at0(ch + sent(me, from) * crec)});
    for (int e = 1; e < t.groups; ++e) {
      const int h = (t.g + e) % t.groups;
      s1.push_back({to, at0(ch + sent(t.at(h, jto), me) * crec)});
      r1.push_back({from, at0(ch + sent(t.at(h, t.i), from) * crec)});
    }
  }
  // Hop 2: one message of group sums per group back over level 1.
  for (int e = 1; e < t.groups; ++e) {
    const int hto = (t.g + e) % t.groups, hfrom = (t.g - e + t.groups) % t.groups;
    s2.push_back({t.at(hto, t.i), at0(ch + toGroup(t.at(hto, t.i), t.g) * crec)});
    r2.push_back({t.at(hfrom, t.i), at0(ch + toGroup(me, hfrom) * crec)});
  }
  combine.push_back(join(moeTransferPlan("moe-combine-hier", n, s1, r1),
                         moeTransferPlan("moe-combine-hier", n, s2, r2)));
}

}  // namespace

Result<MoeSimResult> evaluateMoeTimingOnly(const Topology& topo, const MoeShape& shape,
                                           const size_t* tokensSent,
                                           const size_t* tokensToGroup) {
  if (tokensToGroup) {
    STRATA_ASSIGN(bool two, moeTakesTwoLevels(topo, shape));
    if (!two) tokensToGroup = nullptr;
  }
  return evaluateMoeRoute(topo, shape, tokensSent, tokensToGroup);
}

Result<MoeSimResult> evaluateMoeRoute(const Topology& topo, const MoeShape& shape,
                                      const size_t* tokensSent, const size_t* tokensToGroup) {
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
  if (tokensToGroup) {
    const std::optional<TwoLevels> levels = moeTopologyLevels(topo, 0);
    if (levels) {
      for (int h = 0; h < levels->groups; ++h)
        for (int s = 0; s < n; ++s)
          if (tokensToGroup[static_cast<size_t>(s * levels->groups + h)] > shape.maxTokens)
            return makeError(strataInvalidArgument,
                             "tokensToGroup[%d][%d] = %zu is above maxTokensPerRank %zu", s, h,
                             tokensToGroup[static_cast<size_t>(s * levels->groups + h)],
                             shape.maxTokens);
      for (int r = 0; r < n; ++r)
        hierPlans(*moeTopologyLevels(topo, r), shape, n, tokensSent, tokensToGroup, dispatch,
                  combine);
      MoeSimResult out;
      STRATA_ASSIGN(out.dispatch, evaluatePlans(topo, dispatch, kSimChunkBytes));
      STRATA_ASSIGN(out.combine, evaluatePlans(topo, combine, kSimChunkBytes));
      return out;
    }
  }
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
