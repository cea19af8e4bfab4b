// strata-info show: a topology as JSON (a preset, a file, or this host as hwloc sees it), with
// its fingerprint, the one tune files carry.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/host_id.h"
#include "commands.h"
#include "scheduler/topology_fingerprint.h"
#include "topology/hwloc_discovery.h"
#include "topology/topology.h"
#include "topology/topology_json.h"

namespace strata::info {
namespace {

struct ShowOptions {
  std::string spec;
  int ranks = 1;
  bool fingerprintOnly = false;
};

int show(const ShowOptions& o) {
  Topology t;
  if (o.spec.empty()) {
    t = topologyFromHosts(std::vector<std::string>(static_cast<size_t>(o.ranks), localHostId()),
                          discoverLocalHost());
  } else {
    Result<Topology> r = resolveTopology(o.spec);
    if (!r.isOk()) {
      std::fprintf(stderr, "strata-info show: %s\n", r.status().message().c_str());
      return 2;
    }
    t = r.value();
  }
  if (o.fingerprintOnly) {
    std::printf("%s\n", topologyFingerprint(t).c_str());
    return 0;
  }
  std::fputs(topologyToJson(t).c_str(), stdout);
  return 0;
}

}  // namespace

void addShowCommand(CLI::App& app, int* rc) {
  auto o = std::make_shared<ShowOptions>();
  auto* cmd = app.add_subcommand(
      "show", "Print a topology as JSON: a preset, a file, or (without one) this host");
  cmd->add_option("topology", o->spec, "Preset name or topology JSON file");
  cmd->add_option("--ranks", o->ranks, "Ranks placed on this host (without a topology)")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_flag("--fingerprint", o->fingerprintOnly,
                "Print only the topology's fingerprint (the one tune files carry)");
  cmd->callback([o, rc] { *rc = show(*o); });
}

}  // namespace strata::info
