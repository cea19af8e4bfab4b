// The sweep: for each collective, element width and size, every algorithm eligible for the call
// is timed on a communicator that pins it (a split of the tuned one whose tune string names it),
// the candidates interleaved within each round, over several rounds. A time is the slowest
// rank's (the max over ranks), the result per candidate the median over rounds. On the sim the
// link model's time is exact and deterministic: each candidate is evaluated once, pinned, by
// strataSimTimingOnly (every rank's plan from a common start), with no payload.
#pragma once

#include <string>
#include <vector>

#include "options.h"
#include "plan/coll_args.h"
#include "progress.h"
#include "rank_env.h"

namespace strata::tune {

// One size of a series: the median time of each candidate (< 0: not eligible at this size).
struct SweepPoint {
  size_t bytes = 0;        // the call's size as nccl-tests and tune files count it
  std::vector<double> us;  // indexed as Series::algos
  int best = -1;           // the fastest measured
  int model = -1;          // what the cost model picks (-1: none of the candidates)
  int chosen = -1;         // what the tune file records: best, unless it beats model by less
                           // than the margin or loses the confirmation
  // The confirmation pass (after the sweep) of a point whose best departed from the model's
  // choice: the two re-measured head to head; confirmRounds 0 when there was none.
  int confirmRounds = 0;
  int confirmWins = 0;           // rounds the departing candidate was faster in
  double confirmUs[2] = {0, 0};  // medians: the departing candidate, the model's choice
  int departed = -1;             // the candidate confirmed (kept) or not (chosen = model)
};

// One collective in one element type.
struct Series {
  CollType coll = CollType::kAllReduce;
  strataDataType_t type = strataFloat32;
  bool anyWidth = false;           // a copy: the choice holds for every element width
  std::vector<std::string> algos;  // the collective's algorithms in registry order
  std::vector<SweepPoint> points;  // ascending size
};

// The series strata-tune measures for these options: reductions once per type, copies once.
std::vector<Series> planSeries(const TuneOptions& opts);

// The weight of one size in progress units: larger sizes take longer on a real transport; on the
// sim (timing only) every size costs about the same.
double sizeWeight(size_t bytes, bool sim);

// Collective over the ranks of env. Fills every series' points; every rank returns the same.
// On a real transport, every point whose choice departs from the model's is then confirmed:
// after the whole sweep, the two are timed again head to head (opts.confirmRounds rounds,
// alternating which goes first), and the departure is kept only if it wins again by the margin
// and the sign test; otherwise the point records the model's choice.
void runSweep(const RankEnv& env, const TuneOptions& opts, std::vector<Series>& series,
              Progress* progress);

// busbw in GB/s of a call of `bytes` taking `us` on n ranks (nccl-tests' factors).
double busBandwidth(CollType coll, size_t bytes, double us, int nranks);

}  // namespace strata::tune
