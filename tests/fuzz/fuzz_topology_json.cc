// Feeds arbitrary text to the topology file parser (STRATA_TOPO_FILE, strata-info show). A malformed
// file must give a status naming the problem; an accepted one must survive a write and re-read.
#include <cstddef>
#include <cstdint>
#include <string>

#include "topology/topology_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto topo = strata::parseTopologyJson(text, "fuzz input");
  if (!topo.isOk()) {
    if (topo.status().message().empty()) __builtin_trap();
    return 0;
  }
  auto again = strata::parseTopologyJson(strata::topologyToJson(topo.value()), "re-read");
  if (!again.isOk()) __builtin_trap();
  return 0;
}
