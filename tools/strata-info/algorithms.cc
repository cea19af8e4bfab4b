// strata-info algorithms: every registered algorithm with its description and the collectives
// it serves, grouped by name (the registry, not a hand-kept list).
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "commands.h"

namespace strata::info {
namespace {

int listAlgorithms() {
  struct Entry {
    std::vector<std::string> colls;
    std::vector<std::string> descriptions;
  };
  std::vector<std::string> order;
  std::map<std::string, Entry> byName;
  for (const Algorithm* a : algorithmRegistry()) {
    auto [it, fresh] = byName.try_emplace(a->name());
    if (fresh) order.push_back(a->name());
    it->second.colls.push_back(collKey(a->coll()));
    it->second.descriptions.push_back(a->description());
  }
  for (const std::string& name : order) {
    const Entry& e = byName[name];
    std::string colls;
    for (const std::string& c : e.colls) colls += (colls.empty() ? "" : ", ") + c;
    std::printf("%-14s %s\n", name.c_str(), colls.c_str());
    for (size_t i = 0; i < e.colls.size(); ++i)
      std::printf("%-14s   %s: %s\n", "", e.colls[i].c_str(), e.descriptions[i].c_str());
  }
  return 0;
}

}  // namespace

void addAlgorithmsCommand(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand(
      "algorithms", "List the algorithm catalogue: names (as in STRATA_ALGO and tune files), the "
                    "collectives each serves and what it does");
  cmd->callback([rc] { *rc = listAlgorithms(); });
}

}  // namespace strata::info
