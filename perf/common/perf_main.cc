#include "common/perf_main.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/launch.h"
#include "common/options.h"
#include "common/rank_sweep.h"
#include "common/report.h"
#include "common/sim_launch.h"
#include "common/sim_timing.h"

namespace strata::perf {
namespace {

struct RankOutcome {
  bool ok = true;
  bool usageError = false;
  int failedCells = 0;
};

// Prints a usage error; returns its exit status.
int printUsageError(const std::string& tool, const char* message) {
  std::fprintf(stderr, "%s: %s\nRun with --help for more information.\n", tool.c_str(), message);
  return kUsageExit;
}

// Runs one rank to the end and frees its communicator. On a failure the communicator is
// aborted, so that the other ranks see an error instead of waiting for this one.
RankOutcome runRank(const std::string& tool, const Collective& coll, const PerfOptions& opts,
                    strataComm_t comm, Report* report) {
  RankOutcome out;
  int rank = -1;
  strataCommUserRank(comm, &rank);
  try {
    {
      RankSweep sweep(coll, opts, comm, report);
      const std::vector<RankIdentity> ids = sweep.gatherIdentities();
      if (report) report->printHeader(ids);
      out.failedCells = sweep.run();
      if (report && !report->finish()) out.ok = false;
    }
    strataResult_t r = strataCommFinalize(comm);
    if (r != strataSuccess)
      throw std::runtime_error(std::string("strataCommFinalize failed: ") +
                               strataGetErrorString(r) + ": " + strataGetLastError(comm));
    strataCommDestroy(comm);
  } catch (const UsageError& e) {
    if (rank == 0) printUsageError(tool, e.what());
    strataCommAbort(comm);
    out.ok = false;
    out.usageError = true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: rank %d: %s\n", tool.c_str(), rank, e.what());
    strataCommAbort(comm);
    out.ok = false;
  }
  return out;
}

std::string baseName(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// --timing-only: the table from strataSimTimingOnly, without communicators.
int runTimingOnlyTool(const std::string& tool, const Collective& coll, PerfOptions& opts,
                      const SimTopology& topo) {
  opts.check = 0;
  RunInfo info;
  info.tool = tool;
  info.launcher = "timing-only";
  info.nranks = topo.nranks;
  info.simLine = simHeaderLine(topo, true);
  info.timingOnly = true;
  Report report(coll, opts, info);
  report.printHeader({});
  runTimingOnly(coll, opts, topo, report);
  return report.finish() ? 0 : 1;
}

}  // namespace

int runPerfTool(int argc, char** argv, Collective& coll) {
  const std::string tool = baseName(argv[0]);
  PerfOptions opts;
  if (auto rc = parseOptions(argc, argv, coll, opts)) return *rc;

  try {
    std::optional<SimTopology> sim;
    if (!opts.sim.empty()) {
      sim = openSimTopology(opts.sim);
      if (opts.timingOnly) return runTimingOnlyTool(tool, coll, opts, *sim);
      opts.threads = sim->nranks;
    }
    Launch launch(&argc, &argv, opts.threads);
    if (sim && launch.launcher() != "threads")
      throw UsageError("--sim runs every rank in this process; start it without " +
                       launch.launcher());
    strataConfig_t config = STRATA_CONFIG_INITIALIZER;
    if (opts.timeoutSec > 0) config.timeoutMs = opts.timeoutSec * 1000;
    config.commName = tool.c_str();
    if (sim) config = simConfig(config, *sim);
    const std::vector<strataComm_t> comms = launch.createComms(config);

    int nranks = 1;
    strataCommCount(comms.front(), &nranks);
    std::unique_ptr<Report> report;
    size_t reportingThread = comms.size();
    for (size_t t = 0; t < comms.size(); ++t) {
      int rank = -1;
      strataCommUserRank(comms[t], &rank);
      if (rank == 0) reportingThread = t;
    }
    if (reportingThread < comms.size()) {
      RunInfo info;
      info.tool = tool;
      info.launcher = launch.launcher();
      info.nranks = nranks;
      info.threads = launch.threads();
      info.nprocs = nranks / launch.threads();
      if (sim) {
        info.simLine = simHeaderLine(*sim, false);
        info.simSpec = sim->spec;
      }
      report = std::make_unique<Report>(coll, opts, info);
    }

    std::vector<RankOutcome> outcomes(comms.size());
    std::vector<std::thread> threads;
    for (size_t t = 0; t < comms.size(); ++t) {
      Report* r = t == reportingThread ? report.get() : nullptr;
      threads.emplace_back([&, t, r] { outcomes[t] = runRank(tool, coll, opts, comms[t], r); });
    }
    for (auto& th : threads) th.join();

    bool ok = true, usage = false;
    for (const RankOutcome& o : outcomes) {
      ok = ok && o.ok && o.failedCells == 0;
      usage = usage || o.usageError;
    }
    return usage ? kUsageExit : ok ? 0 : 1;
  } catch (const UsageError& e) {
    return printUsageError(tool, e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", tool.c_str(), e.what());
    return 1;
  }
}

}  // namespace strata::perf
