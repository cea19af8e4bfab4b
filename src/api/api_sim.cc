// The simulator's entry points that need no communicator: timing-only evaluation of a collective
// on a modelled topology, and the rank count of a topology.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "api/handles.h"
#include "base/config.h"
#include "base/dtype.h"
#include "scheduler/tune_string.h"
#include "topology/topology.h"
#include "scheduler/timing_only_call.h"

using strata::CollArgs;
using strata::CollType;
using strata::makeError;
using strata::Status;
using strata::api::finish;
using strata::api::guard;

namespace {

// Collectives timing-only evaluation takes by name: every one whose arguments are the same on
// every rank.
const CollType kByName[] = {CollType::kAllReduce,     CollType::kBroadcast, CollType::kReduce,
                            CollType::kGather,        CollType::kScatter,   CollType::kAllGather,
                            CollType::kReduceScatter, CollType::kAllToAll,  CollType::kBarrier};

strata::Result<strata::Topology> topologyOf(const char* op, const std::string& spec) {
  if (spec.empty())
    return makeError(strataInvalidArgument,
                     "%s: no topology: set config->topoFile or STRATA_TOPO_FILE to a preset "
                     "(hccs-8, hccs-2x8, hccs-4x8, cm384) or a topology JSON file",
                     op);
  auto t = strata::resolveTopology(spec);
  if (!t.isOk()) return t.status().context(op);
  return t;
}

}  // namespace

extern "C" {

strataResult_t strataTopoGetRankCount(const char* topology, int* nranks) {
  return guard("strataTopoGetRankCount", [&] {
    const char* op = "strataTopoGetRankCount";
    if (!nranks) return finish(makeError(strataInvalidArgument, "%s: nranks is NULL", op));
    std::string spec = topology ? topology : "";
    if (!topology) {
      const char* env = std::getenv("STRATA_TOPO_FILE");
      spec = env ? env : "";
    }
    auto t = topologyOf(op, spec);
    if (!t.isOk()) return finish(t.status());
    *nranks = t.value().nranks;
    return strataSuccess;
  });
}

strataResult_t strataSimTimingOnly(const strataConfig_t* config, const char* collective,
                                   size_t count, strataDataType_t datatype, strataRedOp_t op,
                                   int root, int inPlace, strataSimResult_t* result) {
  return guard("strataSimTimingOnly", [&] {
    const char* name = "strataSimTimingOnly";
    if (!result) return finish(makeError(strataInvalidArgument, "%s: result is NULL", name));
    if (!collective)
      return finish(makeError(strataInvalidArgument, "%s: collective is NULL", name));
    CollArgs a;
    bool known = false;
    for (CollType c : kByName) {
      if (std::strcmp(collective, strata::collKey(c)) != 0) continue;
      a.coll = c;
      known = true;
    }
    if (!known)
      return finish(makeError(strataInvalidArgument,
                              "%s: collective '%s' is not one of allreduce, broadcast, reduce, "
                              "gather, scatter, allgather, reducescatter, alltoall, barrier",
                              name, collective));
    if (static_cast<int>(datatype) < 0 || static_cast<int>(datatype) >= strataNumTypes)
      return finish(makeError(strataInvalidArgument, "%s: datatype %d is not a strataDataType_t",
                              name, static_cast<int>(datatype)));
    if (static_cast<int>(op) < 0 || static_cast<int>(op) >= strataNumOps)
      return finish(makeError(strataInvalidArgument, "%s: op %d is not a strataRedOp_t", name,
                              static_cast<int>(op)));
    if (inPlace != 0 && inPlace != 1)
      return finish(
          makeError(strataInvalidArgument, "%s: inPlace must be 0 or 1, not %d", name, inPlace));
    auto cfg = strata::resolveConfig(config, nullptr);
    if (!cfg.isOk()) return finish(cfg.status().context(name));
    auto topo = topologyOf(name, cfg.value().topoFile);
    if (!topo.isOk()) return finish(topo.status());
    const int n = topo.value().nranks;
    if (root < 0 || root >= n)
      return finish(
          makeError(strataInvalidArgument, "%s: root %d is outside [0, %d)", name, root, n));
    if (count > SIZE_MAX / strata::dtypeSize(datatype) / static_cast<size_t>(n))
      return finish(makeError(strataInvalidArgument, "%s: count %zu is too large for %d ranks",
                              name, count, n));
    auto tune = strata::TuneTable::parse(cfg.value().algo, "config->algo");
    if (!tune.isOk()) return finish(tune.status().context(name));
    a.count = a.coll == CollType::kBarrier ? 0 : count;
    a.dtype = a.coll == CollType::kBarrier ? strataUint8 : datatype;
    a.op = op;
    a.root = root;
    a.inPlace = inPlace == 1;
    auto tuneFile = strata::tuneFileFor(cfg.value().tuneFile, topo.value());
    if (!tuneFile.isOk()) return finish(tuneFile.status().context(name));
    if (!tuneFile.value().refusal.empty()) strata::warnTuneFileRefused(tuneFile.value().refusal);
    auto r = strata::evaluateTimingOnly(topo.value(), a, tune.value(), tuneFile.value());
    if (!r.isOk()) return finish(r.status().context(name));
    const strata::SimResult& s = r.value();
    std::memset(result, 0, sizeof(*result));
    result->nranks = n;
    result->numLevels = static_cast<int>(topo.value().levels.size());
    result->simTimeUs = static_cast<double>(s.maxEndPs) / 1e6;
    result->minRankTimeUs = static_cast<double>(s.minEndPs) / 1e6;
    for (int l = 0; l < STRATA_MAX_LEVELS; ++l) result->bytesSent[l] = s.total.bytesPerLevel[l];
    result->syncs = s.total.syncs;
    result->steps = s.total.steps;
    std::strncpy(result->algo, s.algo.c_str(), sizeof(result->algo) - 1);
    std::strncpy(result->algoSource, s.algoSource, sizeof(result->algoSource) - 1);
    return strataSuccess;
  });
}

}  // extern "C"
