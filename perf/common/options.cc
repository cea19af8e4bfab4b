#include "common/options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/collective.h"
#include "common/datatypes.h"

namespace strata::perf {
namespace {

std::string launchHelp(const std::string& tool) {
  const std::pair<std::string, const char*> lines[] = {
      {tool + " -t N ...", "N ranks as threads of this process"},
      {"strata-run -np N " + tool + " ...", "N processes, no MPI involved"},
      {"mpirun -np N " + tool + " ...", "N processes; MPI only broadcasts the unique id"},
  };
  size_t width = 0;
  for (const auto& l : lines) width = std::max(width, l.first.size());
  std::string text = "Launch:\n";
  for (const auto& l : lines)
    text += "  " + l.first + std::string(width + 2 - l.first.size(), ' ') + l.second + "\n";
  return text +
         "-t T combines with both launchers: T ranks per process.\n"
         "Exit status: 0 when every checked value is right, 1 on a wrong value or a failed\n"
         "call, 2 on a usage error.";
}

std::string baseName(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// A size option: parsed after CLI11 so the message can name the flag.
struct SizeArg {
  const char* flag;
  std::string text;
  size_t* out;
};

int usageError(const std::string& tool, const std::string& message) {
  std::fprintf(stderr, "%s: %s\nRun with --help for more information.\n", tool.c_str(),
               message.c_str());
  return kUsageExit;
}

}  // namespace

std::optional<size_t> parseSize(const std::string& text) {
  const char* s = text.c_str();
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || errno == ERANGE || !std::isfinite(v) || v < 0) return std::nullopt;
  double unit = 1;
  switch (*end) {
    case 'k':
    case 'K':
      unit = 1024.0;
      ++end;
      break;
    case 'm':
    case 'M':
      unit = 1024.0 * 1024;
      ++end;
      break;
    case 'g':
    case 'G':
      unit = 1024.0 * 1024 * 1024;
      ++end;
      break;
    default:
      break;
  }
  if (*end != '\0') return std::nullopt;
  const double bytes = v * unit;
  if (bytes >= 0x1p63) return std::nullopt;
  return static_cast<size_t>(bytes);
}

std::vector<size_t> sweepSizes(const PerfOptions& o) {
  std::vector<size_t> sizes;
  for (size_t s = o.minBytes; s <= o.maxBytes;) {
    sizes.push_back(s);
    size_t next = o.stepFactor > 1 ? s * static_cast<size_t>(o.stepFactor) : s + o.stepBytes;
    if (o.stepFactor > 1 && s == 0) next = 1;  // 0 * factor would never grow
    if (next <= s) break;                      // overflow
    s = next;
  }
  return sizes;
}

std::optional<int> parseOptions(int argc, char** argv, Collective& coll, PerfOptions& o) {
  const std::string tool = baseName(argv[0]);
  CLI::App app{tool + ": Strata " + coll.name() + " benchmark with the flags of nccl-tests", tool};
  app.footer(launchHelp(tool));
  app.option_defaults()->always_capture_default();

  std::vector<SizeArg> sizes = {{"-b/--minbytes", "32M", &o.minBytes},
                                {"-e/--maxbytes", "32M", &o.maxBytes},
                                {"-i/--stepbytes", "1M", &o.stepBytes}};
  int ngpus = 1;
  app.add_option("-t,--nthreads,--threads", o.threads, "ranks per process, each a thread")
      ->check(CLI::Range(1, 1024));
  app.add_option("-g,--ngpus", ngpus, "ranks per thread (Strata runs one rank per thread: 1)");
  app.add_option("-b,--minbytes", sizes[0].text, "smallest message size (K/M/G suffixes)");
  app.add_option("-e,--maxbytes", sizes[1].text, "largest message size (K/M/G suffixes)");
  app.add_option("-i,--stepbytes", sizes[2].text, "size increment when the factor is 1");
  app.add_option("-f,--stepfactor", o.stepFactor, "size multiplier (> 1 overrides -i)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-n,--iters", o.iters, "timed iterations per size")->check(CLI::PositiveNumber);
  app.add_option("-m,--agg_iters", o.aggIters, "calls per iteration, fused in one group")
      ->check(CLI::PositiveNumber);
  app.add_option("-w,--warmup_iters", o.warmupIters, "untimed iterations before each size")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-p,--parallel_init", o.parallelInit,
                 "accepted for compatibility; ranks always initialise in parallel");
  app.add_option("-c,--check", o.check, "checked calls per size (0: no check)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-o,--op", o.opText, "reduction: " + opChoices());
  app.add_option("-d,--datatype", o.typeText, "element type: " + typeChoices());
  app.add_option("-r,--root", o.root, "root rank (-1: every rank in turn)");
  app.add_option("-z,--blocking", o.blocking, "1: barrier after every call")
      ->check(CLI::Range(0, 1));
  app.add_option("-y,--stream_null", o.streamNull,
                 "1: calls complete on return (NULL stream); 0: queued on a Strata stream")
      ->check(CLI::Range(0, 1));
  app.add_option("-T,--timeout", o.timeoutSec, "deadline of every wait in seconds (0: default)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-G,--cudagraph", o.cudaGraph, "accepted for compatibility; no effect")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-C,--report_cputime", o.reportCpuTime, "1: report the time to issue the calls")
      ->check(CLI::Range(0, 1));
  app.add_option("-a,--average", o.average, "time across ranks: 0 rank 0, 1 mean, 2 min, 3 max")
      ->check(CLI::Range(0, 3));
  app.add_option("-J,--json", o.jsonFile, "also write the results to this JSON file");
  app.add_option("--sim", o.sim,
                 "PRESET|FILE: run the topology's ranks as threads on the sim transport; "
                 "time, algbw and busbw are simulated");
  app.add_flag("--timing-only", o.timingOnly,
               "with --sim: simulated times only, no payload, buffers or check");
  coll.addOptions(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kUsageExit;
  }

  for (const SizeArg& s : sizes) {
    auto v = parseSize(s.text);
    if (!v) return usageError(tool, std::string("invalid size '") + s.text + "' for " + s.flag);
    *s.out = *v;
  }
  if (o.minBytes > o.maxBytes)
    return usageError(tool, "invalid sizes: minbytes " + std::to_string(o.minBytes) +
                                " > maxbytes " + std::to_string(o.maxBytes));
  if (o.stepFactor <= 1 && o.stepBytes == 0 && o.minBytes < o.maxBytes)
    return usageError(tool, "-i/--stepbytes must be positive when -f/--stepfactor is 1");
  if (ngpus != 1)
    return usageError(tool, "-g " + std::to_string(ngpus) +
                                ": Strata runs one rank per thread; use -t for more ranks");
  auto types = parseTypes(o.typeText);
  if (!types)
    return usageError(tool, "invalid datatype '" + o.typeText + "'; choose " + typeChoices());
  o.types = *types;
  auto ops = parseOps(o.opText);
  if (!ops) {
    const char* note = o.opText == "mulsum" ? " (Strata has no pre-multiplied sum)" : "";
    return usageError(tool, "invalid op '" + o.opText + "'" + note + "; choose " + opChoices());
  }
  o.ops = *ops;
  if (o.root < -1) return usageError(tool, "invalid root " + std::to_string(o.root));
  if (o.timingOnly && o.sim.empty())
    return usageError(tool, "--timing-only needs --sim PRESET|FILE");
  if (o.timingOnly && !coll.simKey())
    return usageError(tool, std::string("--timing-only: ") + coll.name() +
                                " has no timing-only evaluation; use --sim alone");
  if (!o.sim.empty() && app.count("-t") > 0)
    return usageError(tool, "-t and --sim: --sim runs one thread per rank of the topology");
  return std::nullopt;
}

}  // namespace strata::perf
