// Statistics: per communicator, the last operation's and the total counters.
#include <cstring>

#include "api/handles.h"

using strata::makeError;
using strata::api::finish;
using strata::api::guard;

namespace {

void toOpStats(const strata::ExecCounters& c, int64_t simPs, uint64_t ops, strataOpStats_t* out) {
  out->simTimeUs = static_cast<double>(simPs) / 1e6;
  for (int l = 0; l < STRATA_MAX_LEVELS; ++l) out->bytesSent[l] = c.bytesPerLevel[l];
  out->syncs = c.syncs;
  out->steps = c.steps;
  out->ops = ops;
  out->callBytes = c.callBytes;
}

}  // namespace

extern "C" {

strataResult_t strataCommGetStats(strataComm_t comm, strataStats_t* stats) {
  return guard("strataCommGetStats", [&] {
    const char* op = "strataCommGetStats";
    auto c = strata::api::checkComm(comm, op);
    if (!c.isOk()) return finish(c.status());
    if (!stats) return finish(makeError(strataInvalidArgument, "%s: stats is NULL", op), c.value());
    const strata::CommStats s = c.value()->stats();
    stats->numLevels = s.numLevels;
    stats->simClockUs = static_cast<double>(s.clockPs) / 1e6;
    toOpStats(s.last, s.lastSimPs, s.ops > 0 ? 1 : 0, &stats->last);
    toOpStats(s.total, s.totalSimPs, s.ops, &stats->total);
    std::memcpy(stats->lastAlgo, s.lastAlgo, sizeof(stats->lastAlgo));
    std::memcpy(stats->lastAlgoSource, s.lastAlgoSource, sizeof(stats->lastAlgoSource));
    return strataSuccess;
  });
}

}  // extern "C"
