// strata-tune's command line: what to measure (collectives, sizes, element types, rounds), how
// the ranks start (-np, --sim, or a launcher), and where the results go (tune file, SVG plot).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "plan/coll_args.h"
#include "strata/strata.h"

namespace strata::tune {

// The exit status of a bad command line.
inline constexpr int kUsageExit = 2;

struct TuneOptions {
  int np = 0;       // -np N: start N processes of this tool through strata-run
  std::string sim;  // --sim PRESET|FILE
  std::string output = "strata-tune.json";
  std::string plot;  // --plot FILE.svg
  std::vector<std::string> collectives{"allreduce", "allgather", "reducescatter",
                                       "broadcast", "reduce",    "alltoall"};
  std::string minBytes = "8";
  std::string maxBytes = "64M";
  int step = 4;  // sizes: powers of `step` from minBytes, then maxBytes
  std::vector<std::string> dtypes{"float"};
  int rounds = 5;         // interleaved rounds of every candidate; the median is kept
  double targetMs = 50.0;  // time one measurement aims at (iterations are chosen to fill it); longer
                          // than a scheduler time slice, so that preemption counts as it does
                          // for an application's back-to-back calls
  int maxIters = 2000;    // iterations of one measurement at most
  std::string pingMaxBytes = "4M";  // the ping-pong's largest message
  double marginPct = 3.0;  // a candidate replaces the model's choice only if this much faster
  int confirmRounds = 11;  // head-to-head rounds confirming each departure (0: no confirmation)
  int timeoutSec = 0;      // 0: the library's default
  bool quiet = false;      // no progress output

  // Resolved by resolveOptions().
  std::vector<CollType> colls;
  std::vector<size_t> sizes;
  std::vector<strataDataType_t> types;
  size_t pingMax = 0;
};

// Parses argv ("-np N" is accepted as the launchers spell it). Returns an exit status when the
// program should stop (help printed: 0; a bad argument: kUsageExit with a message naming it).
std::optional<int> parseOptions(int argc, char** argv, TuneOptions& opts);

// "allreduce", ... and the error listing the collectives strata-tune sweeps.
bool parseCollective(const std::string& text, CollType* out, std::string* error);

}  // namespace strata::tune
