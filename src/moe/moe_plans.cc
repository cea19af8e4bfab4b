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

}  // namespace strata
