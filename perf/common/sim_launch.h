// --sim PRESET|FILE: the ranks of a simulated topology run as threads of this process on the
// "sim" transport, and the table reports simulated times. An iteration lasts as long as the
// largest advance of the ranks' virtual clocks (docs/topology.md, "For perf tools").
#pragma once

#include <string>

#include "strata/strata.h"

namespace strata::perf {

// The topology --sim names: a preset ("hccs-8", "cm384", ...) or a topology JSON file.
struct SimTopology {
  std::string spec;
  int nranks = 0;
};

// Throws UsageError with the library's message when spec is neither a preset nor a valid file.
SimTopology openSimTopology(const std::string& spec);

// "Simulated HCCS mesh 'hccs-8' (8 ranks): time, algbw and busbw are simulated".
std::string simHeaderLine(const SimTopology& topo, bool timingOnly);

// config on the "sim" transport of topo. topo must outlive the result (it holds topoFile).
strataConfig_t simConfig(strataConfig_t config, const SimTopology& topo);

// This rank's virtual clock in microseconds. Throws std::runtime_error if the call fails.
double simClockUs(strataComm_t comm);

}  // namespace strata::perf
