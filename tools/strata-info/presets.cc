// strata-info presets: the built-in topologies.
#include <cstdio>
#include <string>

#include "commands.h"
#include "topology/presets/presets.h"
#include "topology/topology.h"

namespace strata::info {
namespace {

int listPresets() {
  for (const std::string& name : presetNames()) {
    const Topology t = topologyPreset(name).value();
    std::printf("%-10s %4d ranks  %s\n", name.c_str(), t.nranks, t.description.c_str());
  }
  std::printf("%-10s %4s        %s\n", "hccs-<M>x8", "", "M HCCS servers of 8 NPUs");
  std::printf("%-10s %4s        %s\n", "cm384:<N>", "", "the first N NPUs of cm384");
  return 0;
}

}  // namespace

void addPresetsCommand(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("presets", "List the built-in topologies");
  cmd->callback([rc] { *rc = listPresets(); });
}

}  // namespace strata::info
