#include "common/options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <climits>
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

std::string allowedRange(long min, long max) {
  if (max == min + 1) return std::to_string(min) + " or " + std::to_string(max);
  if (max == INT_MAX) return "an integer of at least " + std::to_string(min);
  return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
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

void addIntOption(CLI::App& app, IntOption& option) {
  option.text = std::to_string(*option.out);
  std::string names = option.flag;  // "-n/--iters" -> "-n,--iters"
  std::replace(names.begin(), names.end(), '/', ',');
  app.add_option(names, option.text, option.meaning)->type_name("INT")->capture_default_str();
}

std::optional<std::string> checkIntOption(IntOption& option) {
  const char* s = option.text.c_str();
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || errno == ERANGE || v < option.min || v > option.max)
    return "invalid value '" + option.text + "' for " + option.flag + " (" + option.meaning +
           "): expected " + allowedRange(option.min, option.max);
  *option.out = static_cast<int>(v);
  return std::nullopt;
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
  int graphLaunches = 0;
  constexpr long kAny = INT_MAX;
  std::vector<IntOption> ints = {
      {"-t/--nthreads/--threads", "ranks per process, each a thread", &o.threads, 1, 1024},
      {"-g/--ngpus", "ranks per thread (Strata runs one rank per thread: 1)", &ngpus, 1, kAny},
      {"-f/--stepfactor", "size multiplier (> 1 overrides -i)", &o.stepFactor, 0, kAny},
      {"-n/--iters", "timed iterations per size", &o.iters, 1, kAny},
      {"-m/--agg_iters", "calls per iteration, fused in one group", &o.aggIters, 1, kAny},
      {"-w/--warmup_iters", "untimed iterations before each size", &o.warmupIters, 0, kAny},
      {"-N/--run_cycles", "times the size sweep runs, each printed (0: until stopped)",
       &o.runCycles, 0, kAny},
      {"-p/--parallel_init", "accepted for compatibility; ranks always initialise in parallel",
       &o.parallelInit, 0, 1},
      {"-c/--check", "checked calls per size (0: no check)", &o.check, 0, kAny},
      {"-r/--root", "the root rank; -1: every rank in turn", &o.root, -1, kAny},
      {"-z/--blocking", "1: every call completes and is followed by a barrier", &o.blocking, 0, 1},
      {"-y/--stream_null", "1: calls complete on return (NULL stream); 0: they queue on a stream",
       &o.streamNull, 0, 1},
      {"-T/--timeout", "deadline of every wait in seconds (0: default)", &o.timeoutSec, 0,
       INT_MAX / 1000},
      {"-R/--local_register",
       "1 or 2: buffers from strataMemAlloc registered as windows (direct algorithms); 0: none",
       &o.registration, 0, 2},
      {"-G/--cudagraph", "CUDA graph launches; only 0 on CPU", &graphLaunches, 0, kAny},
      {"-C/--report_cputime", "1: report the time to issue the calls", &o.reportCpuTime, 0, 1},
      {"-a/--average", "time across ranks: 0 rank 0, 1 mean, 2 min, 3 max", &o.average, 0, 3},
  };
  // In nccl-tests' order: -t -g, the sizes, -f -n -m -w -N -p -c, -o -d, then -r onwards.
  auto addInts = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) addIntOption(app, ints[i]);
  };
  addInts(0, 2);
  app.add_option("-b,--minbytes", sizes[0].text, "smallest message size (K/M/G suffixes)")
      ->type_name("SIZE");
  app.add_option("-e,--maxbytes", sizes[1].text, "largest message size (K/M/G suffixes)")
      ->type_name("SIZE");
  app.add_option("-i,--stepbytes", sizes[2].text, "size increment when the factor is 1")
      ->type_name("SIZE");
  addInts(2, 9);
  app.add_option("-o,--op", o.opText, "reduction: " + opChoices());
  app.add_option("-d,--datatype", o.typeText, "element type: " + typeChoices());
  addInts(9, ints.size());
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

  for (IntOption& a : ints) {
    if (auto message = checkIntOption(a)) return usageError(tool, *message);
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
  if (!ops) return usageError(tool, "invalid op '" + o.opText + "'; choose " + opChoices());
  o.ops = *ops;
  if (graphLaunches != 0)
    return usageError(tool, "-G " + std::to_string(graphLaunches) +
                                ": CUDA graphs have no counterpart on CPU; Strata times every "
                                "iteration as its own call (run with -G 0, the default)");
  if (o.timingOnly && o.sim.empty())
    return usageError(tool, "--timing-only needs --sim PRESET|FILE");
  if (o.timingOnly && !coll.simKey())
    return usageError(tool, std::string("--timing-only: ") + coll.name() +
                                " has no timing-only evaluation; use --sim alone");
  if (!o.sim.empty() && app.count("-t") > 0)
    return usageError(tool, "-t and --sim: --sim runs one thread per rank of the topology");
  if (auto message = coll.checkOptions(o)) return usageError(tool, *message);
  return std::nullopt;
}

}  // namespace strata::perf
