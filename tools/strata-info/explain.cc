// strata-info explain: one call shape on one topology, one line per algorithm registered for the
// collective: its estimate, or why it is not a candidate; the chosen one marked with its source.
#include <cstdio>
#include <memory>
#include <string>

#include "base/dtype.h"
#include "commands.h"
#include "info_context.h"

namespace strata::info {
namespace {

struct ExplainOptions {
  std::string topo, coll, bytes, dtype = "float";
  int ranks = 8;
};

int runExplain(const ExplainOptions& o) {
  Result<CollType> coll = parseCollective(o.coll);
  Result<strataDataType_t> dtype = parseDtype(o.dtype);
  Result<size_t> bytes = parseSize(o.bytes);
  for (const Status& s : {coll.status(), dtype.status(), bytes.status()}) {
    if (s.isOk()) continue;
    std::fprintf(stderr, "strata-info explain: %s\n", s.message().c_str());
    return 2;
  }
  Result<InfoContext> ic = makeInfoContext(o.topo, o.ranks);
  if (!ic.isOk()) {
    std::fprintf(stderr, "strata-info explain: %s\n", ic.status().message().c_str());
    return 2;
  }
  const InfoContext& info = ic.value();
  const int n = info.ctx.shape.nranks;
  const CollArgs args = callOfSize(coll.value(), bytes.value(), dtype.value(), n);
  Result<Selection> sel = selectAlgorithm(args, info.ctx, info.sources(), /*priceAll=*/true);
  if (!sel.isOk()) {
    std::fprintf(stderr, "strata-info explain: %s\n", sel.status().message().c_str());
    return 1;
  }
  const Selection& s = sel.value();
  std::printf("%s %zu bytes %s on %s (%d ranks, %s): %s by %s\n", collKey(args.coll),
              args.messageBytes(n), dtypeName(args.dtype), info.ctx.topology->name.c_str(), n,
              info.transport.c_str(), s.algo->name(), sourceName(s.source));
  for (const Algorithm* a : algorithmRegistry()) {
    if (a->coll() != args.coll) continue;
    const PricedCandidate* c = nullptr;
    for (const PricedCandidate& p : s.candidates)
      if (p.algo == a) c = &p;
    const bool chosen = a == s.algo;
    std::string what;
    if (!c)
      what = a->direct() ? "not a candidate (reads peers' windows: windowed calls on shm only)"
                         : "not a candidate on this topology and transport";
    else if (c->seconds < 0)
      what = "unpriced: " + c->why;
    else
      what = timeLabel(c->seconds);
    if (c && !chosen && a->pinnedOnly(args, info.ctx.shape))
      what += "  (runs only when pinned for this call: measured slower than the model's pick)";
    if (chosen) what += format("  <- chosen (%s)", sourceName(s.source));
    if (chosen && s.chunkBytes) what += format(", chunk %s", formatByteSize(s.chunkBytes).c_str());
    std::printf("%s %-15s %s\n", chosen ? "*" : " ", a->name(), what.c_str());
  }
  return 0;
}

}  // namespace

void addExplainCommand(CLI::App& app, int* rc) {
  auto o = std::make_shared<ExplainOptions>();
  auto* cmd = app.add_subcommand(
      "explain", "Explain the selection for one call: one line per algorithm of the collective "
                 "with its estimate, the chosen one marked with what chose it");
  cmd->add_option("--topo", o->topo, "A preset, a topology file, or 'local'")->required();
  cmd->add_option("--coll", o->coll,
                  "allreduce, broadcast, reduce, allgather, reducescatter, alltoall, barrier")
      ->required();
  cmd->add_option("--bytes", o->bytes, "The call's size as nccl-tests counts it (8, 16K, 1M)")
      ->required();
  cmd->add_option("--dtype", o->dtype, "Element type (float, bf16, half, int8, ...)");
  cmd->add_option("--ranks", o->ranks, "Ranks for --topo local")->check(CLI::Range(1, 1024));
  cmd->callback([o, rc] { *rc = runExplain(*o); });
}

}  // namespace strata::info
