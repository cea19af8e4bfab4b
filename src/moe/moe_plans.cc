#include "moe/moe_plans.h"

#include <memory>

namespace strata {

PlanPtr moeExchangePlan(const char* algo, int me, int nranks, size_t slotBytes,
                        const std::vector<size_t>& sendBytes,
                        const std::vector<size_t>& recvBytes) {
  auto plan = std::make_shared<Plan>();
  plan->algo = algo;
  plan->nranks = nranks;
  PlanBuilder b(*plan, strataUint8);
  for (int i = 1; i < nranks; ++i) {
    const int to = (me + i) % nranks;
    const int from = (me - i + nranks) % nranks;
    b.send(to, sendAt(static_cast<size_t>(to) * slotBytes), sendBytes[static_cast<size_t>(to)]);
    const BufRef slot = recvAt(static_cast<size_t>(from) * slotBytes);
    if (recvBytes.empty())
      b.recvUpTo(from, slot, slotBytes);
    else
      b.recv(from, slot, recvBytes[static_cast<size_t>(from)]);
  }
  b.finish();
  return plan;
}

PlanPtr moeRoundPlan(const char* algo, int me, int nranks, const std::vector<MoeTransfer>& sends,
                     const std::vector<MoeTransfer>& recvs) {
  auto plan = std::make_shared<Plan>();
  plan->algo = algo;
  plan->nranks = nranks;
  PlanBuilder b(*plan, strataUint8);
  for (int i = 1; i < nranks; ++i) {
    const MoeTransfer& s = sends[static_cast<size_t>((me + i) % nranks)];
    const MoeTransfer& r = recvs[static_cast<size_t>((me - i + nranks) % nranks)];
    if (s.bytes > 0) b.send((me + i) % nranks, sendAt(s.offset), s.bytes);
    if (r.bytes == 0) continue;
    if (r.upTo)
      b.recvUpTo((me - i + nranks) % nranks, recvAt(r.offset), r.bytes);
    else
      b.recv((me - i + nranks) % nranks, recvAt(r.offset), r.bytes);
  }
  b.finish();
  if (plan->phases.empty()) return nullptr;
  return plan;
}

PlanPtr moeTransferPlan(const char* algo, int nranks, const std::vector<MoePeerTransfer>& sends,
                        const std::vector<MoePeerTransfer>& recvs) {
  auto plan = std::make_shared<Plan>();
  plan->algo = algo;
  plan->nranks = nranks;
  PlanBuilder b(*plan, strataUint8);
  for (const MoePeerTransfer& s : sends)
    if (s.transfer.bytes > 0) b.send(s.peer, sendAt(s.transfer.offset), s.transfer.bytes);
  for (const MoePeerTransfer& r : recvs) {
    if (r.transfer.bytes == 0) continue;
    if (r.transfer.upTo)
      b.recvUpTo(r.peer, recvAt(r.transfer.offset), r.transfer.bytes);
    else
      b.recv(r.peer, recvAt(r.transfer.offset), r.transfer.bytes);
  }
  b.finish();
  if (plan->phases.empty()) return nullptr;
  return plan;
}

}  // namespace strata
