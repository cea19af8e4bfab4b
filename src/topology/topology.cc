#include "topology/topology.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "base/rank_list.h"
#include "topology/hwloc_discovery.h"
#include "topology/presets/presets.h"
#include "topology/topology_json.h"

namespace strata {
namespace {

bool positive(double x) { return std::isfinite(x) && x > 0; }

// Built-in estimates for hosts without a topology file: shared-memory α, bandwidth, reduction
// inside a host (the scheduler prices host topologies with them), 10 GbE TCP between hosts.
constexpr double kShmAlphaUs = 2.0;
constexpr double kShmGbps = 6.0;
constexpr double kHostReduceGbps = 8.0;
constexpr double kTcpAlphaUs = 20.0;
constexpr double kTcpGbps = 1.25;

}  // namespace

std::vector<int> normalizeGroups(const std::vector<int>& groupOf) {
  std::map<int, int> ids;
  std::vector<int> out(groupOf.size());
  for (size_t i = 0; i < groupOf.size(); ++i) {
    auto it = ids.try_emplace(groupOf[i], static_cast<int>(ids.size())).first;
    out[i] = it->second;
  }
  return out;
}

std::vector<int> consecutiveGroups(int nranks, int groupSize) {
  std::vector<int> g(static_cast<size_t>(std::max(nranks, 0)));
  for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<int>(i) / std::max(groupSize, 1);
  return g;
}

std::vector<uint8_t> Topology::levelsFrom(int rank) const {
  std::vector<uint8_t> out(static_cast<size_t>(nranks));
  for (int r = 0; r < nranks; ++r)
    out[static_cast<size_t>(r)] = static_cast<uint8_t>(levelOf(rank, r));
  return out;
}

Status Topology::validate() const {
  if (nranks < 1)
    return makeError(strataInvalidArgument, "/ranks: %d ranks, need at least 1", nranks);
  if (levels.empty()) return makeError(strataInvalidArgument, "/levels: no levels");
  if (levels.size() > static_cast<size_t>(kMaxLevels))
    return makeError(strataInvalidArgument, "/levels: %zu levels, at most %d are supported",
                     levels.size(), kMaxLevels);
  for (size_t p = 0; p < ports.size(); ++p) {
    if (ports[p].name.empty())
      return makeError(strataInvalidArgument, "/ports/%zu/name: must not be empty", p);
    if (!positive(ports[p].gbps))
      return makeError(strataInvalidArgument, "/ports/%zu/gbps: %g GB/s, must be positive", p,
                       ports[p].gbps);
    for (size_t q = 0; q < p; ++q)
      if (ports[q].name == ports[p].name)
        return makeError(strataInvalidArgument, "/ports/%zu/name: '%s' is also port %zu", p,
                         ports[p].name.c_str(), q);
  }
  for (size_t l = 0; l < levels.size(); ++l) {
    const LevelSpec& lv = levels[l];
    if (lv.groupOf.size() != static_cast<size_t>(nranks))
      return makeError(strataInvalidArgument, "/levels/%zu: places %zu ranks, the topology has %d",
                       l, lv.groupOf.size(), nranks);
    if (!positive(lv.link.gbps))
      return makeError(strataInvalidArgument, "/levels/%zu/link/gbps: %g GB/s, must be positive", l,
                       lv.link.gbps);
    if (!std::isfinite(lv.link.alphaUs) || lv.link.alphaUs < 0)
      return makeError(strataInvalidArgument, "/levels/%zu/link/alphaUs: %g us, must be >= 0", l,
                       lv.link.alphaUs);
    if (lv.port < -1 || lv.port >= static_cast<int>(ports.size()))
      return makeError(strataInvalidArgument, "/levels/%zu/port: port %d of %zu", l, lv.port,
                       ports.size());
    if (l == 0) continue;
    // Ranks grouped together at level l-1 stay together at level l.
    const std::vector<int>& below = levels[l - 1].groupOf;
    std::map<int, int> parent;
    for (int r = 0; r < nranks; ++r) {
      const size_t i = static_cast<size_t>(r);
      auto [it, fresh] = parent.try_emplace(below[i], lv.groupOf[i]);
      if (!fresh && it->second != lv.groupOf[i])
        return makeError(strataInvalidArgument,
                         "/levels/%zu: splits a group of level %zu (rank %d is apart from ranks "
                         "it shares level %zu with); groups must nest",
                         l, l - 1, r, l - 1);
    }
  }
  const std::vector<int>& top = levels.back().groupOf;
  for (int r = 1; r < nranks; ++r)
    if (top[static_cast<size_t>(r)] != top[0])
      return makeError(strataInvalidArgument,
                       "/levels/%zu: ranks 0 and %d share no group; the last level must hold "
                       "every rank in one group",
                       levels.size() - 1, r);
  if (!std::isfinite(reduceGbps) || reduceGbps < 0)
    return makeError(strataInvalidArgument, "/compute/reduceGbps: %g GB/s, must be >= 0",
                     reduceGbps);
  for (size_t h = 0; h < hosts.size(); ++h)
    for (int r : hosts[h].ranks)
      if (r < 0 || r >= nranks)
        return makeError(strataInvalidArgument, "/hosts/%zu/ranks: rank %d is outside [0, %d)", h,
                         r, nranks);
  return Status::ok();
}

Topology Topology::subset(const std::vector<int>& ranks) const {
  Topology t = *this;
  t.nranks = static_cast<int>(ranks.size());
  for (size_t l = 0; l < levels.size(); ++l) {
    std::vector<int> g(ranks.size());
    for (size_t i = 0; i < ranks.size(); ++i)
      g[i] = levels[l].groupOf[static_cast<size_t>(ranks[i])];
    t.levels[l].groupOf = normalizeGroups(g);
  }
  t.hosts.clear();
  for (const HostInfo& h : hosts) {
    HostInfo sub = h;
    sub.ranks.clear();
    for (size_t i = 0; i < ranks.size(); ++i)
      if (std::find(h.ranks.begin(), h.ranks.end(), ranks[i]) != h.ranks.end())
        sub.ranks.push_back(static_cast<int>(i));
    if (!sub.ranks.empty()) t.hosts.push_back(std::move(sub));
  }
  return t;
}

Topology topologyFromHosts(const std::vector<std::string>& hostIds,
                           const std::optional<HostInfo>& local) {
  Topology t;
  t.name = "hosts";
  t.description = "ranks grouped by host identity; built-in shared-memory and TCP estimates";
  t.nranks = static_cast<int>(hostIds.size());
  t.reduceGbps = kHostReduceGbps;
  std::map<std::string, int> hostIndex;
  std::vector<int> hostOf(hostIds.size());
  for (size_t r = 0; r < hostIds.size(); ++r) {
    auto it = hostIndex.try_emplace(hostIds[r], static_cast<int>(t.hosts.size())).first;
    if (static_cast<size_t>(it->second) == t.hosts.size()) {
      HostInfo h;
      h.id = hostIds[r];
      if (local && local->id == h.id) h.hardware = local->hardware;
      t.hosts.push_back(std::move(h));
    }
    hostOf[r] = it->second;
    t.hosts[static_cast<size_t>(it->second)].ranks.push_back(static_cast<int>(r));
  }
  LevelSpec shm;
  shm.name = "shm";
  shm.link = {kShmAlphaUs, kShmGbps};
  shm.groupOf = hostOf;
  t.levels.push_back(shm);
  if (t.hosts.size() > 1) {
    LevelSpec tcp;
    tcp.name = "tcp";
    tcp.link = {kTcpAlphaUs, kTcpGbps};
    tcp.groupOf.assign(hostIds.size(), 0);
    t.levels.push_back(tcp);
  }
  return t;
}

Result<Topology> resolveTopology(const std::string& spec) {
  if (spec.empty()) return makeError(strataInvalidArgument, "empty topology name");
  if (isPresetName(spec)) return topologyPreset(spec);
  return loadTopologyFile(spec);
}

Result<Topology> communicatorTopology(const std::string& spec,
                                      const std::vector<std::string>& hostIds) {
  if (!spec.empty()) return resolveTopology(spec);
  return topologyFromHosts(hostIds, discoverLocalHost());
}

std::string describeLevels(const Topology& topo) {
  constexpr size_t kGroupsListed = 8;
  std::string out = format("topology '%s' (%d ranks):", topo.name.c_str(), topo.nranks);
  for (size_t l = 0; l < topo.levels.size(); ++l) {
    const LevelSpec& level = topo.levels[l];
    std::vector<std::vector<int>> groups;
    for (size_t r = 0; r < level.groupOf.size(); ++r) {
      const auto g = static_cast<size_t>(level.groupOf[r]);
      if (g >= groups.size()) groups.resize(g + 1);
      groups[g].push_back(static_cast<int>(r));
    }
    std::string shape;
    const bool even = std::all_of(groups.begin(), groups.end(),
                                  [&](const auto& g) { return g.size() == groups.front().size(); });
    if (groups.size() <= kGroupsListed) {
      shape = format("%zu group%s (ranks ", groups.size(), groups.size() == 1 ? "" : "s");
      for (size_t g = 0; g < groups.size(); ++g)
        shape += (g ? " | " : "") + formatRankList(groups[g], 4);
      shape += ")";
    } else if (even) {
      shape = format("%zu groups of %zu ranks", groups.size(), groups.front().size());
    } else {
      shape = format("%zu groups of unequal sizes", groups.size());
    }
    out += format("%s level %zu '%s' %s, link %g us %g GB/s", l ? ";" : "", l, level.name.c_str(),
                  shape.c_str(), level.link.alphaUs, level.link.gbps);
    if (level.port >= 0 && static_cast<size_t>(level.port) < topo.ports.size())
      out += format(", port '%s' %g GB/s", topo.ports[static_cast<size_t>(level.port)].name.c_str(),
                    topo.ports[static_cast<size_t>(level.port)].gbps);
  }
  return out;
}

Topology withInterHostCost(const Topology& topo, double alpha, double beta) {
  Topology t = topo;
  if (t.levels.size() < 2) return t;
  if (alpha > 0) t.levels[1].link.alphaUs = alpha * 1e6;
  if (beta > 0) t.levels[1].link.gbps = 1e-9 / beta;
  return t;
}

}  // namespace strata
