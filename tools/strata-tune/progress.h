// Progress of a tuning run on stderr: a bar with the percentage and an ETA, redrawn in place,
// when stderr is a terminal; plain lines otherwise (logs, pipes, strata-run's forwarding).
// The ETA extrapolates the time spent so far over the work done, counted in weighted units.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace strata::tune {

class Progress {
 public:
  // total: units of work in the whole run. quiet: print nothing.
  Progress(double total, bool quiet);
  ~Progress();

  // `units` more are done; `what` names the step just finished (and its result, for lines).
  void advance(double units, const std::string& what);
  // A line that stays (a phase's result), printed above the bar.
  void note(const std::string& line);
  // Clears the bar.
  void finish();

  // "1m05s", "12s".
  static std::string duration(double seconds);

 private:
  void draw(const std::string& what);

  double total_;
  double done_ = 0;
  bool quiet_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace strata::tune
