// strata-tune: the topology autotuning tool. It measures each topology level's α and β (a
// ping-pong per level, fitted), sweeps every eligible algorithm per collective x size x element
// width on the communicator's own transport (candidates interleaved, medians of the slowest
// rank), and writes a tune file (STRATA_TUNE_FILE) with the winners, the fitted levels and the
// topology fingerprint; --plot also draws busbw against size. Ranks start with -np N (through
// strata-run), under strata-run or mpirun (the perf tools' launcher code), or as threads on the
// sim with --sim PRESET|FILE. docs/tuning.md, "strata-tune".
#include <cstdio>
#include <ctime>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/dtype.h"
#include "base/status.h"
#include "common/launch.h"
#include "common/rank_sweep.h"
#include "common/sim_launch.h"
#include "level_probe.h"
#include "options.h"
#include "progress.h"
#include "rank_env.h"
#include "self_launch.h"
#include "svg_plot.h"
#include "sweep.h"
#include "tune_output.h"

namespace strata::tune {
namespace {

struct RunInfo {
  std::string launcher;
  std::string sim;
};

std::string loadAverage() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return "unknown";
  return format("%.2f %.2f %.2f", load[0], load[1], load[2]);
}

std::string utcNow() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

// The result table on stdout: per series and size, the choice and every candidate's median.
void printSummary(const std::vector<LevelProbe>& probes, const std::vector<Series>& series) {
  for (const LevelProbe& l : probes) {
    if (l.fit.ok)
      std::printf("# level %d (%s, ranks 0 and %d): alpha %.3f us, %.3f GB/s, R2 %.4f%s\n", l.level,
                  l.name.c_str(), l.peer, l.fit.alphaUs, l.fit.gbps, l.fit.r2,
                  l.fit.r2 < kMinR2 ? " (not written: R2 below 0.9)" : "");
    else
      std::printf("# level %d (%s, ranks 0 and %d): no fit\n", l.level, l.name.c_str(), l.peer);
  }
  for (const Series& s : series) {
    std::printf(
        "# %s %s: size, chosen, its time, the model's choice, candidates (median us, "
        "* chosen)\n",
        collKey(s.coll), s.anyWidth ? "any" : dtypeName(s.type));
    for (const SweepPoint& p : s.points) {
      if (p.chosen < 0) continue;
      std::string cands;
      for (size_t k = 0; k < s.algos.size(); ++k)
        if (p.us[k] >= 0)
          cands += format(" %s%s %.2f", s.algos[k].c_str(),
                          static_cast<int>(k) == p.chosen ? "*" : "", p.us[k]);
      if (p.confirmRounds > 0)
        cands += format("  confirm %s %.2f vs %.2f, %d/%d won: %s",
                        s.algos[static_cast<size_t>(p.departed)].c_str(), p.confirmUs[0],
                        p.confirmUs[1], p.confirmWins, p.confirmRounds,
                        p.chosen == p.departed ? "kept" : "reverted");
      std::printf(
          "%12zu  %-9s %10.2f  %-9s%s\n", p.bytes, s.algos[static_cast<size_t>(p.chosen)].c_str(),
          p.us[static_cast<size_t>(p.chosen)],
          p.model >= 0 ? s.algos[static_cast<size_t>(p.model)].c_str() : "-", cands.c_str());
    }
  }
}

// One rank's whole run; rank 0 reports and writes. Throws on failure.
void tuneRank(strataComm_t comm, const TuneOptions& opts, const RunInfo& info) {
  RankEnv env(comm, info.sim);
  const bool lead = env.rank() == 0;
  const SelectionContext& ctx = env.context();
  std::vector<Series> series = planSeries(opts);
  double total = static_cast<double>(ctx.topology->levels.size());
  for (size_t i = 0; i < series.size(); ++i)
    for (size_t b : opts.sizes) total += sizeWeight(b, env.sim());
  std::optional<Progress> progress;
  if (lead) {
    progress.emplace(total, opts.quiet);
    progress->note(format("%d ranks (%s), topology '%s', fingerprint %s; load average %s",
                          env.nranks(), info.launcher.c_str(), ctx.topology->name.c_str(),
                          ctx.fingerprint.c_str(), loadAverage().c_str()));
  }
  Progress* pr = lead ? &*progress : nullptr;
  const std::vector<LevelProbe> probes = probeLevels(env, opts, pr);
  runSweep(env, opts, series, pr);
  if (!lead) return;
  progress->finish();
  const std::string description = format(
      "strata-tune on %d ranks (%s%s%s), %s, load average %s", env.nranks(), info.launcher.c_str(),
      info.sim.empty() ? "" : " ", info.sim.c_str(), utcNow().c_str(), loadAverage().c_str());
  const std::string text = tuneFileText(ctx, probes, series, description);
  Status s = writeTuneFile(opts.output, text);
  if (!s.isOk()) throw std::runtime_error(s.message());
  if (!opts.plot.empty()) {
    const std::string svg = svgPlot(
        series, env.nranks(),
        format("strata-tune: busbw on '%s', %d ranks", ctx.topology->name.c_str(), env.nranks()));
    std::FILE* f = std::fopen(opts.plot.c_str(), "w");
    if (!f || std::fwrite(svg.data(), 1, svg.size(), f) != svg.size() || std::fclose(f) != 0)
      throw std::runtime_error("cannot write the plot '" + opts.plot + "'");
  }
  printSummary(probes, series);
  std::printf("# wrote %s%s%s\n", opts.output.c_str(), opts.plot.empty() ? "" : " and ",
              opts.plot.c_str());
  std::fflush(stdout);
}

// Runs a rank to the end and frees its communicator; on failure aborts it so that the other
// ranks fail too instead of waiting. Returns false on failure.
bool runRank(strataComm_t comm, const TuneOptions& opts, const RunInfo& info) {
  int rank = -1;
  strataCommUserRank(comm, &rank);
  try {
    tuneRank(comm, opts, info);
    const strataResult_t r = strataCommFinalize(comm);
    if (r != strataSuccess)
      throw std::runtime_error(std::string("strataCommFinalize failed: ") +
                               strataGetLastError(comm));
    strataCommDestroy(comm);
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata-tune: rank %d: %s\n", rank, e.what());
    strataCommAbort(comm);
    return false;
  }
}

int run(int argc, char** argv, const TuneOptions& opts) {
  std::optional<perf::SimTopology> sim;
  if (!opts.sim.empty()) sim = perf::openSimTopology(opts.sim);
  if (!sim && !underLauncher())
    throw perf::UsageError(
        "no ranks to tune: run it with -np N, under strata-run or mpirun, or with --sim "
        "PRESET|FILE");
  perf::Launch launch(&argc, &argv, sim ? sim->nranks : 1);
  if (sim && launch.launcher() != "threads")
    throw perf::UsageError("--sim runs every rank in this process; start it without " +
                           launch.launcher());
  strataConfig_t config = STRATA_CONFIG_INITIALIZER;
  if (opts.timeoutSec > 0) config.timeoutMs = opts.timeoutSec * 1000;
  config.commName = "strata-tune";
  if (sim) config = perf::simConfig(config, *sim);
  const std::vector<strataComm_t> comms = launch.createComms(config);
  int nranks = 0;
  strataCommCount(comms.front(), &nranks);
  if (nranks < 2) {
    for (strataComm_t c : comms) strataCommDestroy(c);
    throw perf::UsageError("tuning needs at least 2 ranks; this run has " + std::to_string(nranks));
  }
  const RunInfo info{sim ? std::string("threads on the sim") : launch.launcher(),
                     sim ? sim->spec : std::string()};
  std::vector<char> ok(comms.size(), 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < comms.size(); ++t)
    threads.emplace_back([&, t] { ok[t] = runRank(comms[t], opts, info); });
  for (auto& th : threads) th.join();
  for (char o : ok)
    if (!o) return 1;
  return 0;
}

}  // namespace
}  // namespace strata::tune

int main(int argc, char** argv) {
  using namespace strata::tune;
  TuneOptions opts;
  if (auto rc = parseOptions(argc, argv, opts)) return *rc;
  if (opts.np > 0) {
    if (underLauncher()) {
      std::fprintf(stderr,
                   "strata-tune: -np under a launcher: the launcher already started the "
                   "ranks; leave -np out\n");
      return kUsageExit;
    }
    return launchSelf(opts.np, argc, argv);
  }
  try {
    return run(argc, argv, opts);
  } catch (const strata::perf::UsageError& e) {
    std::fprintf(stderr, "strata-tune: %s\nRun with --help for more information.\n", e.what());
    return kUsageExit;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata-tune: %s\n", e.what());
    return 1;
  }
}
