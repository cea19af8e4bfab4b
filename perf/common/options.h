// The command line of the perf tools: the flags of nccl-tests, plus -t as ranks-as-threads, -J
// for a JSON copy of the results, and --sim / --timing-only for simulated topologies. Sizes take K,
// M and G suffixes (powers of 1024). Bad values are refused in the tools' own words, naming the
// flag and what it takes; flags of nccl-tests that Strata cannot honour (-R 1|2, -G N, -g N) are
// refused saying why (docs/perf-tools.md lists the differences).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace CLI {
class App;
}

namespace strata::perf {

class Collective;

struct PerfOptions {
  int threads = 1;  // ranks per process, each a thread
  size_t minBytes = size_t{32} << 20;
  size_t maxBytes = size_t{32} << 20;
  size_t stepBytes = size_t{1} << 20;
  int stepFactor = 1;  // > 1: multiply sizes by it; otherwise add stepBytes
  int iters = 20;
  int warmupIters = 5;
  int aggIters = 1;  // calls per timed iteration, fused in one group
  int check = 1;     // checked calls per size and variant; 0 disables the check
  std::string typeText = "float";
  std::string opText = "sum";
  std::vector<strataDataType_t> types;
  std::vector<strataRedOp_t> ops;
  int root = 0;        // -1: every rank in turn
  int average = 1;     // time across ranks: 0 rank 0's, 1 mean, 2 min, 3 max
  int blocking = 0;    // 1: a barrier after every call
  int streamNull = 1;  // 1: calls complete before returning; 0: queued on a Strata stream
  int timeoutSec = 0;  // deadline of every wait; 0 keeps STRATA_TIMEOUT_MS or the default
  int reportCpuTime = 0;
  int parallelInit = 0;  // accepted for nccl-tests compatibility: ranks always init in parallel
  int registration = 0;  // -R 1 or 2: buffers from strataMemAlloc, registered as windows
  int runCycles = 1;     // -N: the size sweep runs this many times, each printed; 0: forever
  std::string jsonFile;
  std::string sim;          // --sim: a topology preset or file; its ranks run as threads on "sim"
  bool timingOnly = false;  // --timing-only (with --sim): strataSimTimingOnly, no payload
};

// Exit status of usage errors.
constexpr int kUsageExit = 2;

// Parses argv into opts, with coll's own options. Returns the exit status when the program must
// stop (after --help, or a usage error already printed), nullopt to go on.
std::optional<int> parseOptions(int argc, char** argv, Collective& coll, PerfOptions& opts);

// "8", "128M", "1.5K": bytes; nullopt if malformed.
std::optional<size_t> parseSize(const std::string& text);

// An integer option that CLI11 reads as text and checkIntOption checks afterwards, so that a bad
// value gets a message in the tool's words: "invalid value '0' for -n/--iters (timed iterations
// per size): expected an integer of at least 1".
struct IntOption {
  IntOption(const char* flag, const char* meaning, int* out, long min, long max)
      : flag(flag), meaning(meaning), out(out), min(min), max(max) {}

  const char* flag;     // "-n/--iters"
  const char* meaning;  // also the --help text
  int* out;
  long min;
  long max;
  std::string text;  // *out as addIntOption found it, then what CLI11 read
};
void addIntOption(CLI::App& app, IntOption& option);
// nullopt when the text is a whole integer in [min, max] (stored in *out); else the message.
std::optional<std::string> checkIntOption(IntOption& option);

// The message sizes of the sweep, in order.
std::vector<size_t> sweepSizes(const PerfOptions& opts);

}  // namespace strata::perf
