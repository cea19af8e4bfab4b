// strata-run's command line.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace strata::run {

inline constexpr int kUsageExit = 2;
inline constexpr long kDefaultGraceMs = 3000;

// kAuto: kCore when every rank is on this one host and there are no more ranks than cores
// (Open MPI's default for a small job), kNone otherwise.
enum class BindTo { kAuto, kNone, kCore };

struct Options {
  long nranks = 0;
  long ranksPerHost = 0;  // 0: every rank on one host
  std::vector<std::string> rankPrefix;
  std::string host;  // empty: 127.0.0.1, or the host of a STRATA_COMM_ID the user set
  long graceMs = kDefaultGraceMs;
  BindTo bindTo = BindTo::kAuto;
  bool prefixOutput = true;  // "[rank] " before every forwarded line
  // -x: (name, value) pairs set in every rank's environment, in order.
  std::vector<std::pair<std::string, std::string>> exports;
  std::vector<std::string> command;
};

// Parses argv; prints the help and exits 0 for -h, prints a usage error and exits kUsageExit for
// a bad command line.
Options parseArgs(int argc, char** argv);

[[noreturn]] void usageError(const std::string& message);

}  // namespace strata::run
