#include "info_context.h"

#include <strings.h>

#include <algorithm>
#include <vector>

#include "base/config.h"
#include "base/dtype.h"
#include "base/host_id.h"
#include "base/logging.h"
#include "topology/topology.h"
#include "transports/shm/shm_channel.h"
#include "transports/sim/sim_transport.h"

namespace strata::info {

Result<InfoContext> makeInfoContext(const std::string& spec, int localRanks) {
  InfoContext out;
  std::shared_ptr<const Topology> topo;
  CommShape shape;
  bool modelsTime = false;
  if (spec == "local") {
    const std::vector<std::string> hosts(static_cast<size_t>(localRanks), localHostId());
    STRATA_ASSIGN(Topology t, communicatorTopology("", hosts));
    topo = std::make_shared<const Topology>(std::move(t));
    shape.nranks = localRanks;
    shape.forwarding = true;  // shared memory runs forwarding ops; chunk: its 128 KiB default
    shape.flagBytes = shm::kFlagBytes;  // small calls take the flag path
    out.transport = "shm";
  } else {
    Result<Topology> t = resolveTopology(spec);
    if (!t.isOk())
      return makeError(strataInvalidArgument,
                       "--topo '%s' is not a preset, a readable topology file or 'local': %s",
                       spec.c_str(), t.status().message().c_str());
    topo = std::make_shared<const Topology>(std::move(t).value());
    shape.nranks = topo->nranks;
    shape.chunkBytes = kSimChunkBytes;
    shape.forwarding = false;
    shape.put = true;
    modelsTime = true;
    out.transport = "sim";
  }
  STRATA_ASSIGN(CommConfig cfg, resolveConfig(nullptr, nullptr));
  STRATA_ASSIGN(out.tuneString, TuneTable::parse(cfg.algo, "STRATA_ALGO"));
  STRATA_ASSIGN(out.tuneFile, tuneFileFor(cfg.tuneFile, *topo));
  out.ctx = makeSelectionContext(shape, topo, modelsTime);
  applyFittedLevels(out.ctx, out.tuneFile.levels);
  return out;
}

// The collectives a size alone describes (the v-collectives, quantised and fused calls need more).
constexpr CollType kSelectable[] = {CollType::kAllReduce,     CollType::kBroadcast,
                                    CollType::kReduce,        CollType::kAllGather,
                                    CollType::kReduceScatter, CollType::kAllToAll,
                                    CollType::kBarrier};

Result<CollType> parseCollective(const std::string& text) {
  CollType c;
  if (parseCollKey(text, &c))
    for (CollType s : kSelectable)
      if (s == c) return c;
  std::string valid;
  for (CollType s : kSelectable) valid += (valid.empty() ? "" : ", ") + std::string(collKey(s));
  return makeError(strataInvalidArgument, "--coll '%s' is not a collective (valid: %s)",
                   text.c_str(), valid.c_str());
}

Result<strataDataType_t> parseDtype(const std::string& text) {
  static const struct {
    const char* alias;
    strataDataType_t type;
  } kAliases[] = {{"bf16", strataBfloat16}, {"fp16", strataFloat16}, {"f16", strataFloat16},
                  {"fp32", strataFloat32},  {"f32", strataFloat32},  {"fp64", strataFloat64},
                  {"f64", strataFloat64},   {"fp8", strataFloat8e4m3}};
  for (const auto& a : kAliases)
    if (strcasecmp(text.c_str(), a.alias) == 0) return a.type;
  std::string valid;
  for (int i = 0; i < strataNumTypes; ++i) {
    const auto t = static_cast<strataDataType_t>(i);
    if (strcasecmp(text.c_str(), dtypeName(t)) == 0) return t;
    valid += (valid.empty() ? "" : ", ") + std::string(dtypeName(t));
  }
  return makeError(strataInvalidArgument, "--dtype '%s' is not a type (valid: %s, bf16, fp16, fp32)",
                   text.c_str(), valid.c_str());
}

Result<size_t> parseSize(const std::string& text) {
  size_t bytes = 0;
  if (!parseByteSize(text, &bytes) || bytes == 0 || bytes == static_cast<size_t>(-1) ||
      bytes > (size_t{1} << 40))
    return makeError(strataInvalidArgument,
                     "--bytes '%s' is not a size from 1 byte to 1T (e.g. 8, 16K, 1M, 1G)",
                     text.c_str());
  return bytes;
}

CollArgs callOfSize(CollType coll, size_t bytes, strataDataType_t dtype, int n) {
  CollArgs a;
  a.coll = coll;
  a.dtype = dtype;
  a.op = strataSum;
  const bool perRank =
      coll == CollType::kAllGather || coll == CollType::kReduceScatter ||
      coll == CollType::kAllToAll;
  const size_t per = perRank ? bytes / static_cast<size_t>(n) : bytes;
  a.count = coll == CollType::kBarrier ? 0 : std::max<size_t>(1, per / dtypeSize(dtype));
  return a;
}

std::string sizeLabel(size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + " " + units[u];
}

std::string timeLabel(double s) {
  if (s < 0) return "unpriced";
  if (s < 1e-3) return format("%.3g us", s * 1e6);
  if (s < 1) return format("%.3g ms", s * 1e3);
  return format("%.3g s", s);
}

}  // namespace strata::info
