// The strata-info subcommands, one file each. Each adds itself to the app; when the command line
// chooses it, its callback runs it and stores the exit status in *rc (0 fine, 1 failed, 2 bad
// input).
#pragma once

#include <CLI/CLI.hpp>

namespace strata::info {

void addAlgorithmsCommand(CLI::App& app, int* rc);  // algorithms.cc
void addSelectCommand(CLI::App& app, int* rc);      // select.cc
void addExplainCommand(CLI::App& app, int* rc);     // explain.cc
void addPresetsCommand(CLI::App& app, int* rc);     // presets.cc
void addShowCommand(CLI::App& app, int* rc);        // show.cc
void addSimCommand(CLI::App& app, int* rc);         // sim.cc
void addStatusCommand(CLI::App& app, int* rc);      // status.cc

}  // namespace strata::info
