// The topology file format (docs/topology.md): JSON read from STRATA_TOPO_FILE and written to
// STRATA_TOPO_DUMP_FILE. A bad file is an InvalidArgument naming the file, the JSON path of the
// offending value (e.g. /levels/1/link/gbps) and the problem.
#pragma once

#include <string>

#include "base/status.h"
#include "topology/topology.h"

namespace strata {

// Parses and validates a topology; `source` names the text's origin in error messages.
Result<Topology> parseTopologyJson(const std::string& text, const std::string& source);

// The topology as JSON text, indented; parseTopologyJson reads it back to an equal Topology.
std::string topologyToJson(const Topology& topo);

Result<Topology> loadTopologyFile(const std::string& path);
Status dumpTopologyFile(const Topology& topo, const std::string& path);

// Rank 0's report of a communicator's topology: its levels at INFO (describeLevels), and the
// topology written to STRATA_TOPO_DUMP_FILE when that is set; a failure is logged, not fatal.
void dumpTopologyToEnvFile(const Topology& topo);

}  // namespace strata
