// Discovery of the local host with hwloc: packages, NUMA nodes, cores, hardware threads, memory
// and caches, plus the host identity (hostname and boot id, or STRATA_HOSTID).
#pragma once

#include "base/status.h"
#include "topology/topology.h"

namespace strata {

// What hwloc reports for this machine. Probed once per process; later calls return the cached
// description (or the cached error).
Result<HostHardware> discoverHostHardware();

// This host: its identity and, when hwloc succeeds, its hardware. Ranks are left empty.
HostInfo discoverLocalHost();

}  // namespace strata
