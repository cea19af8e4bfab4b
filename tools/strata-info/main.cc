// strata-info: what Strata knows and would choose, without running a collective.
//   strata-info algorithms                                   the catalogue, from the registry
//   strata-info select --topo hccs-2x8 --coll allreduce      the selection map, 8 B to 1 GiB
//   strata-info explain --topo hccs-8 --coll allreduce --bytes 16K
//   strata-info presets | show [TOPO] | sim TOPO COLL --count N   topologies and timing-only runs
//   strata-info status PID                                   what a running process is doing
// Each subcommand is one file of this folder (commands.h).
#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Strata: the algorithm catalogue, what the scheduler selects and why, topologies"};
  app.require_subcommand(1);
  int rc = 0;
  strata::info::addAlgorithmsCommand(app, &rc);
  strata::info::addSelectCommand(app, &rc);
  strata::info::addExplainCommand(app, &rc);
  strata::info::addPresetsCommand(app, &rc);
  strata::info::addShowCommand(app, &rc);
  strata::info::addSimCommand(app, &rc);
  strata::info::addStatusCommand(app, &rc);
  CLI11_PARSE(app, argc, argv);
  return rc;
}
