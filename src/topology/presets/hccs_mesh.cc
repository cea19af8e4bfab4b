// HCCS mesh servers (Atlas 800I A2 / 910B-like): 8 NPUs per server, every pair joined by its
// own HCCS link; servers joined by one 200 Gb/s RoCE port per NPU. Sources and uncertainty of
// each number: docs/topology.md.
#include <string>

#include "topology/presets/presets.h"

namespace strata {
namespace {

constexpr int kNpusPerServer = 8;
constexpr double kHccsLinkGbps = 56.0;    // per link per direction (unverified)
constexpr double kHccsPortGbps = 392.0;   // 7 links x 56 GB/s per NPU (unverified)
constexpr double kHccsAlphaUs = 1.0;      // assumption: not published
constexpr double kRoceGbps = 25.0;        // 200 Gb/s per NPU
constexpr double kRoceAlphaUs = 2.0;      // assumption: press figure for Ethernet
constexpr double kNpuReduceGbps = 400.0;  // assumption: HBM-bound vector reduction

}  // namespace

Topology hccsMeshPreset(int servers) {
  Topology t;
  t.nranks = servers * kNpusPerServer;
  t.name = servers == 1 ? "hccs-8" : "hccs-" + std::to_string(servers) + "x8";
  t.description = servers == 1
                      ? "8-NPU HCCS full mesh (Atlas 800I A2 / 910B-like)"
                      : std::to_string(servers) +
                            " HCCS mesh servers of 8 NPUs, 200 Gb/s RoCE per NPU between them";
  t.reduceGbps = kNpuReduceGbps;
  t.ports.push_back({"hccs", kHccsPortGbps});
  LevelSpec mesh;
  mesh.name = "hccs";
  mesh.link = {kHccsAlphaUs, kHccsLinkGbps};
  mesh.port = 0;
  mesh.groupOf = consecutiveGroups(t.nranks, servers == 1 ? t.nranks : kNpusPerServer);
  t.levels.push_back(mesh);
  if (servers > 1) {
    t.ports.push_back({"roce", kRoceGbps});
    LevelSpec roce;
    roce.name = "roce";
    roce.link = {kRoceAlphaUs, kRoceGbps};
    roce.port = 1;
    roce.groupOf = consecutiveGroups(t.nranks, t.nranks);
    t.levels.push_back(roce);
  }
  return t;
}

}  // namespace strata
