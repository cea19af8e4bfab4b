// strata-topo: prints topologies (presets, files, this host as hwloc sees it) and evaluates a
// collective on one in timing-only mode.
//   strata-topo presets
//   strata-topo show [hccs-2x8 | file.json] [--ranks N]
//   strata-topo sim cm384 alltoall --count 917504 --dtype uint8
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "base/host_id.h"
#include "base/dtype.h"
#include "strata/strata.h"
#include "topology/hwloc_discovery.h"
#include "topology/presets/presets.h"
#include "topology/topology_json.h"

namespace {

using strata::Topology;

int listPresets() {
  for (const std::string& name : strata::presetNames()) {
    const Topology t = strata::topologyPreset(name).value();
    std::printf("%-10s %4d ranks  %s\n", name.c_str(), t.nranks, t.description.c_str());
  }
  std::printf("%-10s %4s        %s\n", "hccs-<M>x8", "", "M HCCS servers of 8 NPUs");
  std::printf("%-10s %4s        %s\n", "cm384:<N>", "", "the first N NPUs of cm384");
  return 0;
}

int show(const std::string& spec, int ranks) {
  Topology t;
  if (spec.empty()) {
    t = strata::topologyFromHosts(
        std::vector<std::string>(static_cast<size_t>(ranks), strata::localHostId()),
        strata::discoverLocalHost());
  } else {
    auto r = strata::resolveTopology(spec);
    if (!r.isOk()) {
      std::fprintf(stderr, "strata-topo: %s\n", r.status().message().c_str());
      return 1;
    }
    t = r.value();
  }
  std::fputs(strata::topologyToJson(t).c_str(), stdout);
  return 0;
}

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

int simulate(const std::string& spec, const std::string& coll, size_t count,
             const std::string& dtypeText, const std::string& opText, int root,
             const std::string& algo, bool inPlace) {
  strataDataType_t dtype = strataFloat32;
  strataRedOp_t op = strataSum;
  if (!parseName<strataDataType_t, strataNumTypes>(dtypeText, dtype, strata::dtypeName)) {
    std::fprintf(stderr, "strata-topo: unknown --dtype '%s'\n", dtypeText.c_str());
    return 2;
  }
  if (!parseName<strataRedOp_t, strataNumOps>(opText, op, strata::redopName)) {
    std::fprintf(stderr, "strata-topo: unknown --op '%s'\n", opText.c_str());
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
    std::fprintf(stderr, "strata-topo: %s\n", strataGetLastError(nullptr));
    return 1;
  }
  const double bytes = callBytes(coll, count, strata::dtypeSize(dtype), r.nranks);
  const double algbw = r.simTimeUs > 0 ? bytes / (r.simTimeUs * 1e3) : 0.0;  // GB/s
  std::printf("topology %s: %d ranks, %d levels; %s (%s) count %zu %s, %.0f bytes\n", spec.c_str(),
              r.nranks, r.numLevels, coll.c_str(), r.algo, count, strata::dtypeName(dtype), bytes);
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

int main(int argc, char** argv) {
  CLI::App app{"Strata topologies: presets, files, this host, and timing-only simulation"};
  app.require_subcommand(1);

  auto* presets = app.add_subcommand("presets", "List the built-in topologies");

  auto* showCmd = app.add_subcommand(
      "show", "Print a topology as JSON: a preset, a file, or (without one) this host");
  std::string showSpec;
  int ranks = 1;
  showCmd->add_option("topology", showSpec, "Preset name or topology JSON file");
  showCmd->add_option("--ranks", ranks, "Ranks placed on this host (without a topology)")
      ->check(CLI::Range(1, 1 << 16));

  auto* sim = app.add_subcommand("sim", "Timing-only simulation of one collective");
  std::string simSpec, coll, dtype = "float", op = "sum", algo;
  size_t count = 1;
  int root = 0;
  bool inPlace = false;
  sim->add_option("topology", simSpec, "Preset name or topology JSON file")->required();
  sim->add_option("collective", coll,
                  "allreduce, broadcast, reduce, allgather, reducescatter, alltoall, barrier")
      ->required();
  sim->add_option("--count", count, "Elements, as in the matching strata call");
  sim->add_option("--dtype", dtype,
                  "int8 uint8 int32 uint32 int64 uint64 half float double "
                  "bfloat16 f8e4m3 f8e5m2");
  sim->add_option("--op", op, "sum prod max min avg");
  sim->add_option("--root", root, "Root rank (broadcast, reduce)");
  sim->add_option("--algo", algo, "Tune string pinning algorithms, e.g. alltoall:@pairwise");
  sim->add_flag("--in-place", inPlace, "The in-place variant");

  CLI11_PARSE(app, argc, argv);
  if (presets->parsed()) return listPresets();
  if (showCmd->parsed()) return show(showSpec, ranks);
  return simulate(simSpec, coll, count, dtype, op, root, algo, inPlace);
}
