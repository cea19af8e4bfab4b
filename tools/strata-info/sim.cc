// strata-info sim: evaluates one collective on a topology in timing-only mode (the sim's link
// model walked over every rank's plan, no payload): simulated time, bandwidths, bytes per level.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "base/dtype.h"
#include "commands.h"
#include "strata/strata.h"

namespace strata::info {
namespace {

template <typename Enum, int N>
bool parseName(const std::string& text, Enum& out, const char* (*name)(Enum)) {
  for (int i = 0; i < N; ++i)
    if (text == name(static_cast<Enum>(i))) {
      out = static_cast<Enum>(i);
      return true;
    }
  return false;
}

// busbw factor of nccl-tests for the collective on n ranks.
double busFactor(const std::string& coll, int n) {
  if (coll == "allreduce") return 2.0 * (n - 1) / n;
  if (coll == "allgather" || coll == "reducescatter" || coll == "alltoall")
    return static_cast<double>(n - 1) / n;
  return 1.0;
}

// Bytes nccl-tests reports as the size of a call.
double callBytes(const std::string& coll, size_t count, size_t es, int n) {
  const double b = static_cast<double>(count) * static_cast<double>(es);
  if (coll == "allgather" || coll == "reducescatter" || coll == "alltoall") return b * n;
  return b;
}

struct SimOptions {
  std::string spec, coll, dtype = "float", op = "sum", algo;
  size_t count = 1;
  int root = 0;
  bool inPlace = false;
};

int simulate(const SimOptions& o) {
  const std::string& spec = o.spec;
  const std::string& coll = o.coll;
  const std::string& dtypeText = o.dtype;
  const std::string& opText = o.op;
  const std::string& algo = o.algo;
  const size_t count = o.count;
  const int root = o.root;
  const bool inPlace = o.inPlace;
  strataDataType_t dtype = strataFloat32;
  strataRedOp_t op = strataSum;
  if (!parseName<strataDataType_t, strataNumTypes>(dtypeText, dtype, dtypeName)) {
    std::fprintf(stderr, "strata-info sim: unknown --dtype '%s'\n", dtypeText.c_str());
    return 2;
  }
  if (!parseName<strataRedOp_t, strataNumOps>(opText, op, redopName)) {
    std::fprintf(stderr, "strata-info sim: unknown --op '%s'\n", opText.c_str());
    return 2;
  }
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.topoFile = spec.c_str();
  cfg.algo = algo.empty() ? nullptr : algo.c_str();
  strataSimResult_t r;
  const auto start = std::chrono::steady_clock::now();
  strataResult_t res =
      strataSimTimingOnly(&cfg, coll.c_str(), count, dtype, op, root, inPlace ? 1 : 0, &r);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (res != strataSuccess) {
    std::fprintf(stderr, "strata-info sim: %s\n", strataGetLastError(nullptr));
    return 1;
  }
  const double bytes = callBytes(coll, count, dtypeSize(dtype), r.nranks);
  const double algbw = r.simTimeUs > 0 ? bytes / (r.simTimeUs * 1e3) : 0.0;  // GB/s
  std::printf("topology %s: %d ranks, %d levels; %s (%s by %s) count %zu %s, %.0f bytes\n",
              spec.c_str(), r.nranks, r.numLevels, coll.c_str(), r.algo, r.algoSource, count,
              dtypeName(dtype), bytes);
  std::printf(
      "simulated time %.3f us (first rank done at %.3f us), algbw %.2f GB/s, busbw %.2f "
      "GB/s\n",
      r.simTimeUs, r.minRankTimeUs, algbw, algbw * busFactor(coll, r.nranks));
  std::printf("bytes sent by level:");
  for (int l = 0; l < r.numLevels; ++l)
    std::printf(" L%d %llu", l, static_cast<unsigned long long>(r.bytesSent[l]));
  std::printf("; syncs %llu; steps %llu (all ranks)\n", static_cast<unsigned long long>(r.syncs),
              static_cast<unsigned long long>(r.steps));
  std::printf("wall time %.3f ms\n", wall * 1e3);
  return 0;
}

}  // namespace

void addSimCommand(CLI::App& app, int* rc) {
  auto o = std::make_shared<SimOptions>();
  auto* cmd = app.add_subcommand("sim", "Timing-only simulation of one collective");
  cmd->add_option("topology", o->spec, "Preset name or topology JSON file")->required();
  cmd->add_option("collective", o->coll,
                  "allreduce, broadcast, reduce, allgather, reducescatter, alltoall, barrier")
      ->required();
  cmd->add_option("--count", o->count, "Elements, as in the matching strata call");
  cmd->add_option("--dtype", o->dtype,
                  "int8 uint8 int32 uint32 int64 uint64 half float double bfloat16 f8e4m3 f8e5m2");
  cmd->add_option("--op", o->op, "sum prod max min avg");
  cmd->add_option("--root", o->root, "Root rank (broadcast, reduce)");
  cmd->add_option("--algo", o->algo, "Tune string pinning algorithms, e.g. alltoall:@pairwise");
  cmd->add_flag("--in-place", o->inPlace, "The in-place variant");
  cmd->callback([o, rc] { *rc = simulate(*o); });
}

}  // namespace strata::info
