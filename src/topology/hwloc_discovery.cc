#include "topology/hwloc_discovery.h"

#include <hwloc.h>

#include <memory>
#include <mutex>

#include "base/host_id.h"
#include "base/logging.h"

namespace strata {
namespace {

struct HwlocTopology {
  hwloc_topology_t handle = nullptr;
  ~HwlocTopology() {
    if (handle) hwloc_topology_destroy(handle);
  }
};

int countOf(hwloc_topology_t t, hwloc_obj_type_t type) {
  const int n = hwloc_get_nbobjs_by_type(t, type);
  return n < 0 ? 0 : n;
}

const char* cacheTypeName(hwloc_obj_cache_type_t type) {
  switch (type) {
    case HWLOC_OBJ_CACHE_DATA:
      return "data";
    case HWLOC_OBJ_CACHE_INSTRUCTION:
      return "instruction";
    default:
      return "unified";
  }
}

Result<HostHardware> probe() {
  HwlocTopology topo;
  if (hwloc_topology_init(&topo.handle) != 0) {
    topo.handle = nullptr;
    return makeError(strataSystemError, "hwloc_topology_init failed");
  }
  if (hwloc_topology_load(topo.handle) != 0)
    return makeError(strataSystemError, "hwloc_topology_load failed");
  hwloc_topology_t t = topo.handle;
  HostHardware hw;
  hw.packages = countOf(t, HWLOC_OBJ_PACKAGE);
  hw.numaNodes = countOf(t, HWLOC_OBJ_NUMANODE);
  hw.cores = countOf(t, HWLOC_OBJ_CORE);
  hw.pus = countOf(t, HWLOC_OBJ_PU);
  hw.memoryBytes = hwloc_get_root_obj(t)->total_memory;
  const hwloc_obj_type_t cacheTypes[] = {HWLOC_OBJ_L1CACHE,  HWLOC_OBJ_L1ICACHE, HWLOC_OBJ_L2CACHE,
                                         HWLOC_OBJ_L2ICACHE, HWLOC_OBJ_L3CACHE,  HWLOC_OBJ_L3ICACHE,
                                         HWLOC_OBJ_L4CACHE,  HWLOC_OBJ_L5CACHE};
  for (hwloc_obj_type_t type : cacheTypes) {
    const int n = countOf(t, type);
    if (n == 0) continue;
    hwloc_obj_t first = hwloc_get_obj_by_type(t, type, 0);
    if (!first || !first->attr) continue;
    CacheInfo c;
    c.depth = static_cast<int>(first->attr->cache.depth);
    c.type = cacheTypeName(first->attr->cache.type);
    c.sizeBytes = first->attr->cache.size;
    c.count = n;
    hw.caches.push_back(std::move(c));
  }
  return hw;
}

}  // namespace

Result<HostHardware> discoverHostHardware() {
  static std::once_flag once;
  static std::unique_ptr<Result<HostHardware>> cached;
  std::call_once(once, [] {
    cached = std::make_unique<Result<HostHardware>>(probe());
    if (cached->isOk()) {
      const HostHardware& hw = cached->value();
      STRATA_INFO(Subsys::kTopo, "host: %d packages, %d NUMA nodes, %d cores, %d PUs, %llu bytes",
                  hw.packages, hw.numaNodes, hw.cores, hw.pus,
                  static_cast<unsigned long long>(hw.memoryBytes));
    } else {
      STRATA_WARN("hwloc discovery failed: %s", cached->status().message().c_str());
    }
  });
  return *cached;
}

HostInfo discoverLocalHost() {
  HostInfo h;
  h.id = localHostId();
  Result<HostHardware> hw = discoverHostHardware();
  if (hw.isOk()) h.hardware = hw.value();
  return h;
}

}  // namespace strata
