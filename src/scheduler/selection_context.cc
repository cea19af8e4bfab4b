#include "scheduler/selection_context.h"

#include "scheduler/topology_fingerprint.h"

namespace strata {

SelectionContext makeSelectionContext(const CommShape& shape, std::shared_ptr<const Topology> topo,
                                      bool modelsTime) {
  SelectionContext c;
  c.shape = shape;
  c.topology = std::move(topo);
  c.shape.level0Groups.clear();
  if (c.topology->levels.size() > 1) c.shape.level0Groups = c.topology->levels[0].groupOf;
  c.peerLevels = c.topology->levelsFrom(shape.rank);
  c.modelsTime = modelsTime;
  c.fingerprint = topologyFingerprint(*c.topology);
  c.model =
      std::make_shared<const CostModel>(costModelFor(*c.topology, modelsTime, shape.chunkBytes));
  return c;
}

void applyFittedLevels(SelectionContext& ctx, const std::vector<FittedLevel>& levels) {
  if (levels.empty()) return;
  Topology fitted = *ctx.topology;
  std::string tag = "fit";
  for (const FittedLevel& l : levels) {
    if (l.level < 0 || l.level >= static_cast<int>(fitted.levels.size())) continue;
    fitted.levels[static_cast<size_t>(l.level)].link = {l.alphaUs, l.gbps};
    tag += format(":%d=%.17g/%.17g", l.level, l.alphaUs, l.gbps);
  }
  ctx.model = std::make_shared<const CostModel>(
      costModelFor(fitted, ctx.modelsTime, ctx.shape.chunkBytes));
  ctx.modelTag = tag;
}

SelectionContext forRank(const SelectionContext& ctx, int rank) {
  SelectionContext c = ctx;
  c.shape.rank = rank;
  c.peerLevels = c.topology->levelsFrom(rank);
  return c;
}

SelectionContext hostSelectionContext(const CommShape& shape) {
  const std::vector<std::string> hosts(static_cast<size_t>(shape.nranks), "host");
  auto topo = std::make_shared<const Topology>(topologyFromHosts(hosts, std::nullopt));
  return makeSelectionContext(shape, std::move(topo), !shape.forwarding);
}

}  // namespace strata
