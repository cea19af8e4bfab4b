// strata-info select: the selection map of one collective on one topology, from 8 B to 1 GiB:
// per size the chosen algorithm, what chose it (tune string, tune file, model, fallback), and
// every eligible candidate's estimate with the chosen one marked.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "commands.h"
#include "info_context.h"

namespace strata::info {
namespace {

struct SelectOptions {
  std::string topo, coll, dtype = "float";
  int ranks = 8;
  int step = 2;
};

// The header shared with explain: the topology, the transport and the tune sources in force.
void printSources(const InfoContext& ic) {
  const Topology& t = *ic.ctx.topology;
  std::printf("topology %s: %d ranks, %zu levels, fingerprint %s; transport %s%s\n",
              t.name.c_str(), t.nranks, t.levels.size(), ic.ctx.fingerprint.c_str(),
              ic.transport.c_str(), ic.ctx.modelTag.empty() ? "" : "; model with fitted levels");
  std::printf("tune string (STRATA_ALGO): %s\n",
              ic.tuneString.empty() ? "none" : format("%zu entries", ic.tuneString.rules().size()).c_str());
  if (!ic.tuneFile.refusal.empty())
    std::printf("tune file (STRATA_TUNE_FILE): refused: %s\n", ic.tuneFile.refusal.c_str());
  else if (ic.tuneFile.table)
    std::printf("tune file (STRATA_TUNE_FILE): %zu entries\n", ic.tuneFile.table->rules().size());
  else
    std::printf("tune file (STRATA_TUNE_FILE): none\n");
}

int runSelect(const SelectOptions& o) {
  Result<CollType> coll = parseCollective(o.coll);
  Result<strataDataType_t> dtype = parseDtype(o.dtype);
  for (const Status& s : {coll.status(), dtype.status()}) {
    if (s.isOk()) continue;
    std::fprintf(stderr, "strata-info select: %s\n", s.message().c_str());
    return 2;
  }
  Result<InfoContext> ic = makeInfoContext(o.topo, o.ranks);
  if (!ic.isOk()) {
    std::fprintf(stderr, "strata-info select: %s\n", ic.status().message().c_str());
    return 2;
  }
  printSources(ic.value());
  std::printf("%s %s: size, choice, source; candidates (estimates, * chosen)\n",
              collKey(coll.value()), dtypeName(dtype.value()));
  const int n = ic.value().ctx.shape.nranks;
  // 8 B, then every power of `step` above it up to 1 GiB (--step 4: 16 B, 64 B, ..., 1 GiB).
  std::vector<size_t> sizes{8};
  for (size_t b = 16; b <= (size_t{1} << 30); b *= 2)
    if (o.step == 2 || (__builtin_ctzll(b) % 2) == 0) sizes.push_back(b);
  for (size_t bytes : sizes) {
    const CollArgs args = callOfSize(coll.value(), bytes, dtype.value(), n);
    Result<Selection> sel =
        selectAlgorithm(args, ic.value().ctx, ic.value().sources(), /*priceAll=*/true);
    if (!sel.isOk()) {
      std::printf("%-9s error: %s\n", sizeLabel(bytes).c_str(), sel.status().message().c_str());
      continue;
    }
    std::string list;
    for (const PricedCandidate& c : sel.value().candidates) {
      list += list.empty() ? "" : ", ";
      list += std::string(c.algo->name()) + (c.algo == sel.value().algo ? "*" : "") + " " +
              timeLabel(c.seconds);
    }
    std::printf("%-9s %-9s %-11s %s\n", sizeLabel(bytes).c_str(), sel.value().algo->name(),
                sourceName(sel.value().source), list.c_str());
  }
  return 0;
}

}  // namespace

void addSelectCommand(CLI::App& app, int* rc) {
  auto o = std::make_shared<SelectOptions>();
  auto* cmd = app.add_subcommand(
      "select", "Print the algorithm the scheduler selects for each size from 8 B to 1 GiB, "
                "every candidate's estimate, and what chose it (honours STRATA_ALGO and "
                "STRATA_TUNE_FILE)");
  cmd->add_option("--topo", o->topo, "A preset (hccs-8, hccs-2x8, cm384, ...), a topology file, "
                                     "or 'local' (this host over shared memory)")
      ->required();
  cmd->add_option("--coll", o->coll,
                  "allreduce, broadcast, reduce, allgather, reducescatter, alltoall, barrier")
      ->required();
  cmd->add_option("--dtype", o->dtype, "Element type (float, bf16, half, int8, ...)");
  cmd->add_option("--ranks", o->ranks, "Ranks for --topo local")->check(CLI::Range(1, 1024));
  cmd->add_option("--step", o->step, "Rows: every power of 2 (2) or of 4 (4) from 16 B, after 8 B")
      ->check(CLI::IsMember({2, 4}));
  cmd->callback([o, rc] { *rc = runSelect(*o); });
}

}  // namespace strata::info
