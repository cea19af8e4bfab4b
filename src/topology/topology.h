// The topology model: ranks grouped in levels (level 0 = one host's shared memory or one server's
// HCCS mesh; higher levels = RoCE/TCP between hosts, or a supernode's switches), each level's
// links with a latency α and a bandwidth, and per-rank ports whose bandwidth caps every link
// that goes through them. The sim transport's link model and the statistics' bytes-per-level
// both read it. Loaded from JSON (topology_json.h), from a preset (presets/presets.h), or built
// from the hosts of a communicator's ranks plus hwloc discovery (hwloc_discovery.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "strata/strata.h"

namespace strata {

constexpr int kMaxLevels = STRATA_MAX_LEVELS;

// A kind of port every rank has one of (an NPU's HCCS or UB port, its RoCE NIC). Links of the
// levels that name it share its bandwidth, separately per direction.
struct PortSpec {
  std::string name;
  double gbps = 0;  // GB/s (1e9 bytes/s) per direction

  bool operator==(const PortSpec&) const = default;
};

// One point-to-point link between two ranks of a level, per direction.
struct LinkSpec {
  double alphaUs = 0;  // latency of one message, microseconds
  double gbps = 0;     // GB/s (1e9 bytes/s); a single message never moves faster than this

  bool operator==(const LinkSpec&) const = default;
};

struct LevelSpec {
  std::string name;
  LinkSpec link;
  int port = -1;             // index into Topology::ports; -1: no port cap
  std::vector<int> groupOf;  // group of each rank at this level, numbered by first appearance

  bool operator==(const LevelSpec&) const = default;
};

struct CacheInfo {
  int depth = 0;     // 1 for L1, 2 for L2, ...
  std::string type;  // "unified", "data" or "instruction"
  uint64_t sizeBytes = 0;
  int count = 0;  // caches of this kind on the host

  bool operator==(const CacheInfo&) const = default;
};

// What hwloc reports about one host.
struct HostHardware {
  int packages = 0;
  int numaNodes = 0;
  int cores = 0;
  int pus = 0;  // hardware threads
  uint64_t memoryBytes = 0;
  std::vector<CacheInfo> caches;

  bool operator==(const HostHardware&) const = default;
};

struct HostInfo {
  std::string id;  // host identity (hostname:boot id, or STRATA_HOSTID)
  std::vector<int> ranks;
  std::optional<HostHardware> hardware;  // known for hosts that were discovered

  bool operator==(const HostInfo&) const = default;
};

struct Topology {
  std::string name;
  std::string description;
  int nranks = 0;
  std::vector<PortSpec> ports;
  std::vector<LevelSpec> levels;  // lowest first; the last holds every rank in one group
  double reduceGbps = 0;          // rate at which a rank reduces incoming bytes; 0: free
  std::vector<HostInfo> hosts;    // optional

  bool operator==(const Topology&) const = default;

  // The lowest level at which ranks a and b share a group (0 for a == b).
  int levelOf(int a, int b) const {
    for (size_t l = 0; l + 1 < levels.size(); ++l)
      if (levels[l].groupOf[static_cast<size_t>(a)] == levels[l].groupOf[static_cast<size_t>(b)])
        return static_cast<int>(l);
    return static_cast<int>(levels.size()) - 1;
  }

  // Every rank's level as seen from `rank`.
  std::vector<uint8_t> levelsFrom(int rank) const;

  // InvalidArgument naming the first inconsistency: rank counts, groups that do not nest, a last
  // level that splits the ranks, a non-positive bandwidth, a bad port index.
  Status validate() const;

  // The topology of a sub-communicator: ranks[i] (a rank of this topology) becomes rank i.
  Topology subset(const std::vector<int>& ranks) const;
};

// Group numbering used everywhere: ids renumbered in order of first appearance.
std::vector<int> normalizeGroups(const std::vector<int>& groupOf);

// A level whose ranks form consecutive groups of `groupSize`.
std::vector<int> consecutiveGroups(int nranks, int groupSize);

// The topology of ranks placed on hosts: level 0 "shm" inside each host, level 1 "tcp" between
// hosts (omitted when every rank shares one host). hostIds[r] is rank r's host; `local`, when
// given, describes the host it names. Link parameters are the built-in shared-memory and TCP
// estimates (docs/topology.md).
Topology topologyFromHosts(const std::vector<std::string>& hostIds,
                           const std::optional<HostInfo>& local);

// A preset name (presets/presets.h) or a JSON file path.
Result<Topology> resolveTopology(const std::string& spec);

// The topology of a communicator whose rank r runs on host hostIds[r]: `spec` (resolveTopology)
// when non-empty, else topologyFromHosts with this host described by hwloc.
Result<Topology> communicatorTopology(const std::string& spec,
                                      const std::vector<std::string>& hostIds);

// One line naming the levels, for logs: "topology 'hosts' (4 ranks): level 0 'shm' 2 groups
// (ranks 0-1 | 2-3), link 2 us 6 GB/s; level 1 'tcp' 1 group of 4, link 20 us 1.25 GB/s".
std::string describeLevels(const Topology& topo);

// A host-derived topology with the link between hosts (level 1) priced by a transport: alpha in
// seconds, beta in seconds per byte. Zeros (no opinion) leave it unchanged.
Topology withInterHostCost(const Topology& topo, double alpha, double beta);

}  // namespace strata
