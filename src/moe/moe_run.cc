#include "moe/moe_run.h"

#include <mutex>

namespace strata {

Status runMoePlan(Comm& comm, PlanRun& run, const PlanPtr& plan, const char* name, uint64_t call,
                  std::byte* sendStage, std::byte* recvSlots, size_t callBytes) {
  std::lock_guard<std::mutex> lock(comm.execMutex());
  STRATA_CHECK(comm.ready());
  run.reset(comm.runContext());
  RunItem& item = run.items().emplace_back();
  item.plan = plan;
  item.bases[kSendBuf] = sendStage;
  item.bases[kRecvBuf] = recvSlots;
  item.collName = name;
  item.call = call;
  run.start();
  PlanRun* runs[] = {&run};
  Status s = runToCompletion(runs, 1);
  ExecCounters c = run.counters();
  c.callBytes = callBytes;
  comm.addCounters(c, plan->algo.c_str(), plan->algoSource);
  if (!s.isOk()) comm.fail(s);
  return s;
}

}  // namespace strata
