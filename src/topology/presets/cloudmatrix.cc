// A CloudMatrix384-like supernode: 384 NPUs in 48 nodes of 8, every NPU on one Unified Bus with
// 392 GB/s per NPU per direction. Inside a node a message crosses one UB switch, between nodes
// three (L1, L2, L1). Sources and uncertainty of each number: docs/topology.md.
#include <algorithm>
#include <string>

#include "topology/presets/presets.h"

namespace strata {
namespace {

constexpr int kNpusPerNode = 8;
constexpr double kUbPortGbps = 392.0;     // per NPU, unidirectional (press)
constexpr double kUbLinkGbps = 392.0;     // assumption: one peer's traffic spreads over every plane
constexpr double kUbNodeAlphaUs = 0.2;    // one UB hop (press: ~200 ns)
constexpr double kUbSuperAlphaUs = 0.6;   // assumption: three hops
constexpr double kNpuReduceGbps = 400.0;  // assumption: HBM-bound vector reduction

}  // namespace

Topology cloudMatrixPreset(int nranks) {
  Topology t;
  t.nranks = nranks;
  t.name = nranks == 384 ? "cm384" : "cm384:" + std::to_string(nranks);
  t.description = "CloudMatrix384-like supernode, 48 nodes of 8 NPUs on one Unified Bus" +
                  std::string(nranks == 384 ? "" : " (first " + std::to_string(nranks) + " NPUs)");
  t.reduceGbps = kNpuReduceGbps;
  t.ports.push_back({"ub", kUbPortGbps});
  LevelSpec node;
  node.name = "ub-node";
  node.link = {kUbNodeAlphaUs, kUbLinkGbps};
  node.port = 0;
  node.groupOf = consecutiveGroups(nranks, std::min(nranks, kNpusPerNode));
  t.levels.push_back(node);
  LevelSpec super;
  super.name = "ub-supernode";
  super.link = {kUbSuperAlphaUs, kUbLinkGbps};
  super.port = 0;
  super.groupOf = consecutiveGroups(nranks, nranks);
  t.levels.push_back(super);
  return t;
}

}  // namespace strata
