// flashcomm_perf: the FlashComm claims (REFERENCE.md §1) as `name value` lines, each value a
// ratio of statistics counters (strataCommGetStats) of real runs on the sim transport: the
// ranks of a simulated topology run the calls as threads with real payload, and the tool only
// divides what the counters say. Nothing is computed from a formula.
//
//   fc1_mixed_bytes_ratio        wire bytes of the fused AllReduce (bf16 ReduceScatter + int8
//                                AllGather with one scale per token) over the ring AllReduce
//                                (bf16), [tokens, hidden] on t ranks
//   fc2_a2a_over_rs_bytes_ratio  wire bytes of the AllToAll of the int8 attention output
//                                [tokens, attn / t] (+ one float32 scale per token and rank)
//                                over the bf16 ReduceScatter of [tokens, hidden] it replaces
//   topocomm_sync_ratio          synchronisations of the hierarchical AllReduce (hier) over the
//                                flat ring, 1 MB float32
//   topocomm_time_ratio          simulated time of the same two, 16 MB
//   topocomm_busbw_ratio         busbw of hier over the flat algorithm the scheduler would pick
//                                without it (the cheapest flat plan), 16 MB
//
// Usage: flashcomm_perf [--sim PRESET] [--topo-sim PRESET] [--tokens N] [--hidden H] [--attn D]
// The FlashComm lines run on --sim (default hccs-8), the TopoComm lines on --topo-sim (default
// hccs-2x8, a topology of two levels).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/rank_sweep.h"
#include "common/sim_launch.h"
#include "strata/strata.h"

namespace {

struct Options {
  std::string sim = "hccs-8";
  std::string topoSim = "hccs-2x8";
  size_t tokens = 1024;
  size_t hidden = 7168;
  size_t attn = 16384;  // heads x head_dim
};

void check(strataResult_t r, const char* what, strataComm_t comm) {
  if (r != strataSuccess)
    throw std::runtime_error(std::string(what) + ": " + strataGetErrorString(r) + ": " +
                             strataGetLastError(comm));
}

// What a run's counters say, summed over its ranks.
struct Counters {
  double bytes = 0;
  double syncs = 0;
  double maxClockUs = 0;
};

// Runs body on every rank of a fresh sim communicator on `topo` (algorithms pinned by `tune`,
// or the scheduler's choice when empty) and sums the ranks' counters since init.
Counters runOnSim(const strata::perf::SimTopology& topo, const std::string& tune,
                  const std::function<void(int rank, strataComm_t comm)>& body) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg = strata::perf::simConfig(cfg, topo);
  cfg.algo = tune.empty() ? nullptr : tune.c_str();
  const int n = topo.nranks;
  std::vector<strataComm_t> comms(static_cast<size_t>(n));
  check(strataCommInitAll(comms.data(), n, &cfg), "strataCommInitAll", nullptr);
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        body(r, comms[static_cast<size_t>(r)]);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
        strataCommAbort(comms[static_cast<size_t>(r)]);
        comms[static_cast<size_t>(r)] = nullptr;
      }
    });
  for (auto& t : threads) t.join();
  Counters c;
  for (strataComm_t comm : comms) {
    if (!comm) continue;
    strataStats_t s{};
    check(strataCommGetStats(comm, &s), "strataCommGetStats", comm);
    for (int l = 0; l < STRATA_MAX_LEVELS; ++l)
      c.bytes += static_cast<double>(s.total.bytesSent[l]);
    c.syncs += static_cast<double>(s.total.syncs);
    c.maxClockUs = std::max(c.maxClockUs, s.simClockUs);
    strataCommDestroy(comm);
  }
  for (const std::string& e : errors)
    if (!e.empty()) throw std::runtime_error(e);
  return c;
}

// A bf16 buffer of `elems` small values (their bytes are what matters, not their values).
std::vector<uint16_t> bf16Buffer(size_t elems, int rank) {
  std::vector<uint16_t> v(elems);
  for (size_t i = 0; i < elems; ++i)
    v[i] = static_cast<uint16_t>(0x3f80 + ((i + static_cast<size_t>(rank)) % 7));  // 1.0 ...
  return v;
}

void noEpilogue(void*, size_t, size_t, strataDataType_t, void*) {}

void need(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

// (a) FlashComm 1 under W8A8: the fused call with the int8 gather against the ring AllReduce.
double fc1MixedBytesRatio(const Options& o, const strata::perf::SimTopology& topo) {
  const size_t count = o.tokens * o.hidden;
  const Counters ring = runOnSim(topo, "allreduce:@ring", [&](int rank, strataComm_t comm) {
    std::vector<uint16_t> x = bf16Buffer(count, rank);
    check(strataAllReduce(x.data(), x.data(), count, strataBfloat16, strataSum, comm, nullptr),
          "strataAllReduce", comm);
  });
  const Counters fused = runOnSim(topo, "allreducefused:@ring", [&](int rank, strataComm_t comm) {
    std::vector<uint16_t> x = bf16Buffer(count, rank);
    strataEpilogue_t epi{};
    epi.fn = noEpilogue;
    epi.rowElems = o.hidden;
    epi.quantizeGather = 1;
    epi.quant = strataQuantInt8;
    check(strataAllReduceFused(x.data(), x.data(), count, strataBfloat16, strataSum, &epi, comm,
                               nullptr),
          "strataAllReduceFused", comm);
  });
  return fused.bytes / ring.bytes;
}

// (b) FlashComm 2: the AllToAll of the int8 attention output (values, then one float32 scale
// per token and rank) against the bf16 ReduceScatter of the o_proj output it replaces.
double fc2AllToAllOverReduceScatter(const Options& o, const strata::perf::SimTopology& topo) {
  const size_t t = static_cast<size_t>(topo.nranks);
  need(o.tokens % t == 0 && o.attn % t == 0,
       "fc2: --tokens " + std::to_string(o.tokens) + " and --attn " + std::to_string(o.attn) +
           " must be multiples of the " + std::to_string(t) + " ranks");
  const size_t rowsPerPeer = o.tokens / t, cols = o.attn / t;
  const Counters rs = runOnSim(topo, "", [&](int rank, strataComm_t comm) {
    std::vector<uint16_t> x = bf16Buffer(o.tokens * o.hidden, rank);
    std::vector<uint16_t> out(o.tokens * o.hidden / t);
    check(strataReduceScatter(x.data(), out.data(), out.size(), strataBfloat16, strataSum, comm,
                              nullptr),
          "strataReduceScatter", comm);
  });
  const Counters a2a = runOnSim(topo, "", [&](int rank, strataComm_t comm) {
    std::vector<int8_t> values(o.tokens * cols), recvValues(o.tokens * cols);
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int8_t>((i + rank) % 127);
    std::vector<float> scales(o.tokens, 0.01f), recvScales(o.tokens);
    check(strataAllToAll(values.data(), recvValues.data(), rowsPerPeer * cols, strataInt8, comm,
                         nullptr),
          "strataAllToAll (values)", comm);
    check(
        strataAllToAll(scales.data(), recvScales.data(), rowsPerPeer, strataFloat32, comm, nullptr),
        "strataAllToAll (scales)", comm);
  });
  return a2a.bytes / rs.bytes;
}

// (c) (d) (e) TopoComm: hier against the flat algorithms on a two-level topology.
struct TopoFigures {
  double syncRatio = 0, timeRatio = 0, busbwRatio = 0;
  std::string flatPick;
};

// One AllReduce of `bytes` float32 bytes in place, pinned to `algo`.
Counters allReduceOnce(const strata::perf::SimTopology& topo, const std::string& algo,
                       size_t bytes) {
  const size_t count = bytes / sizeof(float);
  return runOnSim(topo, "allreduce:@" + algo, [&](int rank, strataComm_t comm) {
    std::vector<float> x(count, static_cast<float>(rank % 3));
    check(strataAllReduce(x.data(), x.data(), count, strataFloat32, strataSum, comm, nullptr),
          "strataAllReduce", comm);
  });
}

// The flat AllReduce the scheduler would pick without hier: the cheapest of the flat
// algorithms that run on the sim, priced by timing-only evaluation (whose times equal the sim's
// and the cost model's there).
std::string flatPick(const strata::perf::SimTopology& topo, size_t bytes) {
  std::string best;
  double bestUs = 0;
  for (const char* algo : {"ring", "oneshot", "twoshot", "rhd"}) {
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    cfg.topoFile = topo.spec.c_str();
    const std::string tune = std::string("allreduce:@") + algo;
    cfg.algo = tune.c_str();
    strataSimResult_t r{};
    check(strataSimTimingOnly(&cfg, "allreduce", bytes / sizeof(float), strataFloat32, strataSum, 0,
                              1, &r),
          "strataSimTimingOnly", nullptr);
    if (best.empty() || r.simTimeUs < bestUs) {
      best = algo;
      bestUs = r.simTimeUs;
    }
  }
  return best;
}

TopoFigures topoComm(const strata::perf::SimTopology& topo) {
  TopoFigures f;
  const size_t small = 1u << 20, large = 16u << 20;
  f.syncRatio = allReduceOnce(topo, "hier", small).syncs / allReduceOnce(topo, "ring", small).syncs;
  const Counters hier = allReduceOnce(topo, "hier", large);
  const Counters ring = allReduceOnce(topo, "ring", large);
  f.timeRatio = hier.maxClockUs / ring.maxClockUs;
  f.flatPick = flatPick(topo, large);
  const Counters flat = f.flatPick == "ring" ? ring : allReduceOnce(topo, f.flatPick, large);
  // busbw = bytes x 2(n-1)/n / time for both: the ratio of busbw is the inverse time ratio.
  f.busbwRatio = flat.maxClockUs / hier.maxClockUs;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"FlashComm claims from the sim's statistics counters (docs/flashcomm.md)"};
  app.add_option("--sim", o.sim, "topology preset or file the lines run on");
  app.add_option("--topo-sim", o.topoSim, "two-level topology the TopoComm lines run on");
  app.add_option("--tokens", o.tokens, "tokens N (a multiple of the ranks)");
  app.add_option("--hidden", o.hidden, "hidden size H");
  app.add_option("--attn", o.attn, "attention output width D = heads x head_dim");
  CLI11_PARSE(app, argc, argv);
  try {
    const strata::perf::SimTopology topo = strata::perf::openSimTopology(o.sim);
    std::printf("# %s; tokens %zu, hidden %zu, attn %zu, t = %d\n",
                strata::perf::simHeaderLine(topo, false).c_str(), o.tokens, o.hidden, o.attn,
                topo.nranks);
    std::fflush(stdout);
    const double fc1 = fc1MixedBytesRatio(o, topo);
    const double fc2 = fc2AllToAllOverReduceScatter(o, topo);
    const strata::perf::SimTopology two = strata::perf::openSimTopology(o.topoSim);
    const TopoFigures f = topoComm(two);
    std::printf("fc1_mixed_bytes_ratio %.4f\n", fc1);
    std::printf("fc2_a2a_over_rs_bytes_ratio %.4f\n", fc2);
    std::printf("topocomm_sync_ratio %.4f\n", f.syncRatio);
    std::printf("topocomm_time_ratio %.4f\n", f.timeRatio);
    std::printf("topocomm_busbw_ratio %.4f\n", f.busbwRatio);
    std::printf("# topocomm lines: %s; AllReduce float32, hier against ring (1 MB, 16 MB) and "
                "the flat pick '%s' (16 MB)\n",
                strata::perf::simHeaderLine(two, false).c_str(), f.flatPick.c_str());
  } catch (const strata::perf::UsageError& e) {
    std::fprintf(stderr, "flashcomm_perf: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "flashcomm_perf: %s\n", e.what());
    return 1;
  }
  return 0;
}
