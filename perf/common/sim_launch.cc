#include "common/sim_launch.h"

#include <stdexcept>

#include "common/rank_sweep.h"

namespace strata::perf {
namespace {

// What the presets model, for the header; files are described by their name only.
std::string describe(const std::string& spec) {
  if (spec == "hccs-8") return "HCCS mesh";
  if (spec.rfind("hccs-", 0) == 0) return "HCCS servers over RoCE";
  if (spec.rfind("cm384", 0) == 0) return "CloudMatrix384-like supernode";
  return "topology";
}

}  // namespace

SimTopology openSimTopology(const std::string& spec) {
  SimTopology topo;
  topo.spec = spec;
  if (strataTopoGetRankCount(spec.c_str(), &topo.nranks) != strataSuccess)
    throw UsageError("--sim " + spec + ": " + strataGetLastError(nullptr));
  return topo;
}

std::string simHeaderLine(const SimTopology& topo, bool timingOnly) {
  return "Simulated " + describe(topo.spec) + " '" + topo.spec + "' (" +
         std::to_string(topo.nranks) + " ranks): time, algbw and busbw are simulated" +
         (timingOnly ? " (timing only, no payload)" : "");
}

strataConfig_t simConfig(strataConfig_t config, const SimTopology& topo) {
  config.transport = "sim";
  config.topoFile = topo.spec.c_str();
  return config;
}

double simClockUs(strataComm_t comm) {
  strataStats_t stats{};
  const strataResult_t r = strataCommGetStats(comm, &stats);
  if (r != strataSuccess)
    throw std::runtime_error(std::string("strataCommGetStats failed: ") + strataGetErrorString(r) +
                             ": " + strataGetLastError(comm));
  return stats.simClockUs;
}

}  // namespace strata::perf
