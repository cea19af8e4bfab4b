#include "options.h"

#include <strings.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/dtype.h"
#include "scheduler/tune_string.h"

namespace strata::tune {
namespace {

// The collectives a size alone describes and strata-tune sweeps.
constexpr CollType kSweepable[] = {
    CollType::kAllReduce, CollType::kAllGather, CollType::kReduceScatter, CollType::kBroadcast,
    CollType::kReduce,    CollType::kAllToAll,  CollType::kGather,        CollType::kScatter};

bool parseDtype(const std::string& text, strataDataType_t* out) {
  static const struct {
    const char* alias;
    strataDataType_t type;
  } kAliases[] = {{"bf16", strataBfloat16},
                  {"fp16", strataFloat16},
                  {"fp32", strataFloat32},
                  {"fp64", strataFloat64},
                  {"int8", strataInt8}};
  for (const auto& a : kAliases)
    if (strcasecmp(text.c_str(), a.alias) == 0) return *out = a.type, true;
  for (int i = 0; i < strataNumTypes; ++i)
    if (strcasecmp(text.c_str(), dtypeName(static_cast<strataDataType_t>(i))) == 0)
      return *out = static_cast<strataDataType_t>(i), true;
  return false;
}

// A file can be created or replaced at `path`: its folder exists and is writable, and the file,
// if it exists, is a writable regular file.
bool writable(const std::string& path, std::string* why) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    *why = "folder '" + dir + "': " + std::strerror(errno);
    return false;
  }
  if (access(path.c_str(), F_OK) == 0 && access(path.c_str(), W_OK) != 0) {
    *why = std::strerror(errno);
    return false;
  }
  return true;
}

int usage(const std::string& message) {
  std::fprintf(stderr, "strata-tune: %s\nRun with --help for more information.\n", message.c_str());
  return kUsageExit;
}

std::optional<int> resolveOptions(TuneOptions& o) {
  o.colls.clear();
  for (const std::string& c : o.collectives) {
    CollType t;
    std::string error;
    if (!parseCollective(c, &t, &error)) return usage(error);
    bool seen = false;
    for (CollType s : o.colls) seen = seen || s == t;
    if (!seen) o.colls.push_back(t);
  }
  size_t lo = 0, hi = 0;
  if (!parseByteSize(o.minBytes, &lo) || lo == 0 || lo > (size_t{1} << 40))
    return usage("--min-bytes '" + o.minBytes +
                 "' is not a size from 1 byte to 1T (e.g. 8, 16K, 1M)");
  if (!parseByteSize(o.maxBytes, &hi) || hi == 0 || hi > (size_t{1} << 40))
    return usage("--max-bytes '" + o.maxBytes + "' is not a size from 1 byte to 1T (e.g. 64M)");
  if (lo > hi)
    return usage("size range " + o.minBytes + " to " + o.maxBytes +
                 " is empty: --min-bytes is larger than --max-bytes");
  o.sizes.clear();
  for (size_t b = lo; b < hi; b *= static_cast<size_t>(o.step)) o.sizes.push_back(b);
  o.sizes.push_back(hi);
  if (!parseByteSize(o.pingMaxBytes, &o.pingMax) || o.pingMax < 8 || o.pingMax > (size_t{1} << 32))
    return usage("--ping-max-bytes '" + o.pingMaxBytes + "' is not a size from 8 bytes to 4G");
  o.types.clear();
  for (const std::string& d : o.dtypes) {
    strataDataType_t t;
    if (!parseDtype(d, &t))
      return usage("--dtype '" + d +
                   "' is not an element type (float, bf16, half, double, int8, int32, ...)");
    bool seen = false;
    for (strataDataType_t s : o.types) seen = seen || dtypeSize(s) == dtypeSize(t);
    if (seen)
      return usage("--dtype '" + d + "': another type of " + std::to_string(dtypeSize(t) * 8) +
                   " bits is already listed (the tune file keeps one entry per element width)");
    o.types.push_back(t);
  }
  std::string why;
  if (!writable(o.output, &why))
    return usage("--output '" + o.output + "' cannot be written: " + why);
  if (!o.plot.empty() && !writable(o.plot, &why))
    return usage("--plot '" + o.plot + "' cannot be written: " + why);
  if (o.np == 1) return usage("-np 1: tuning needs at least 2 ranks");
  if (o.np > 0 && !o.sim.empty())
    return usage("-np and --sim exclude each other (--sim runs the topology's ranks as threads)");
  return std::nullopt;
}

}  // namespace

bool parseCollective(const std::string& text, CollType* out, std::string* error) {
  CollType c;
  if (parseCollKey(text, &c))
    for (CollType s : kSweepable)
      if (s == c) return *out = c, true;
  std::string valid;
  for (CollType s : kSweepable) valid += (valid.empty() ? "" : ", ") + std::string(collKey(s));
  *error = "--coll '" + text + "' is not a collective strata-tune sweeps (valid: " + valid + ")";
  return false;
}

std::optional<int> parseOptions(int argc, char** argv, TuneOptions& o) {
  // "-np N" as mpirun and strata-run spell it; CLI11 reads single-dash names as one letter.
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(std::strcmp(argv[i], "-np") == 0 ? "--np" : argv[i]);
  std::reverse(args.begin(), args.end());

  CLI::App app{
      "strata-tune: measures this machine's levels (alpha, bandwidth) and every algorithm of "
      "each collective over a range of sizes, and writes a tune file (STRATA_TUNE_FILE) with "
      "the fastest per size. Run it with -np N, under strata-run or mpirun, or with --sim."};
  app.name("strata-tune");
  app.add_option("-n,--np", o.np,
                 "Start N processes of this tool on this host (through strata-run)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--sim", o.sim, "Run on the simulated topology PRESET|FILE (ranks as threads)");
  app.add_option("-o,--output", o.output, "The tune file to write")->capture_default_str();
  app.add_option("--plot", o.plot, "Also write an SVG of busbw against size per collective");
  app.add_option("-c,--coll", o.collectives,
                 "Collectives to sweep (allreduce allgather reducescatter broadcast reduce "
                 "alltoall gather scatter)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("-b,--min-bytes", o.minBytes, "Smallest size (nccl-tests' size column)")
      ->capture_default_str();
  app.add_option("-e,--max-bytes", o.maxBytes, "Largest size")->capture_default_str();
  app.add_option("-f,--step", o.step, "Sizes grow by this factor (2 or 4)")
      ->check(CLI::IsMember({2, 4}))
      ->capture_default_str();
  app.add_option("-d,--dtype", o.dtypes,
                 "Element types, one per width (float, bf16, double, int8, ...): reductions are "
                 "tuned per width, copies once")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("-r,--rounds", o.rounds, "Interleaved rounds per size (the median is kept)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--target-ms", o.targetMs, "Time one measurement aims at, in ms")
      ->check(CLI::Range(0.01, 10000.0))
      ->capture_default_str();
  app.add_option("--max-iters", o.maxIters, "Iterations of one measurement at most")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--ping-max-bytes", o.pingMaxBytes, "Largest ping-pong message of the fit")
      ->capture_default_str();
  app.add_option("--margin", o.marginPct,
                 "Percent by which a candidate must beat the cost model's choice to replace it")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  app.add_option("--confirm-rounds", o.confirmRounds,
                 "Rounds of the head-to-head re-measurement that must confirm every choice "
                 "departing from the cost model's (0: none)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--timeout", o.timeoutSec, "Seconds any wait may take (0: the library's default)")
      ->check(CLI::Range(0, 86400));
  app.add_flag("-q,--quiet", o.quiet, "No progress output");
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      app.exit(e);
      return 0;
    }
    return usage(e.what());
  }
  return resolveOptions(o);
}

}  // namespace strata::tune
