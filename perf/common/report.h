// The output of a perf tool on rank 0: the nccl-tests table on stdout, and with -J a JSON
// document holding the same results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/options.h"
#include "strata/strata.h"

namespace strata::perf {

class Collective;

struct RankIdentity {
  int rank = 0;
  int pid = 0;
  std::string host;
};

// One variant (out of place or in place) of one size.
struct CellResult {
  double timeUs = 0;
  double algBw = 0;  // GB/s
  double busBw = 0;  // GB/s
  bool checked = false;
  int64_t wrong = 0;        // elements, summed over ranks
  double maxAbsError = -1;  // Collective::reportsError(): the largest over ranks; -1 unmeasured
  std::string algo;  // the algorithm rank 0 ran (strataStats_t.lastAlgo / strataSimResult_t.algo)
  std::string algoSource;  // what chose it: "tune string", "tune file", "model", "fallback"
};

struct RowResult {
  size_t bytes = 0;
  size_t count = 0;
  std::string type;
  std::string redop;
  int root = -1;
  int cycle = 0;  // -N: which run of the size sweep
  CellResult outOfPlace;
  CellResult inPlace;
};

// The run as the header and the JSON file describe it.
struct RunInfo {
  std::string tool;
  std::string launcher;
  int nranks = 1;
  int nprocs = 1;
  int threads = 1;
  std::string simLine;      // --sim: the header line saying the times are simulated
  std::string simSpec;      // --sim: the preset or file the ranks stand for
  bool timingOnly = false;  // --timing-only: no ranks ran
};

class Report {
 public:
  Report(const Collective& coll, const PerfOptions& opts, RunInfo run);

  // ranks empty (--timing-only): no "Using devices" section.
  void printHeader(const std::vector<RankIdentity>& ranks);
  // A row is printed as it is measured: its leading columns, then each variant.
  void beginRow(size_t bytes, size_t count, const std::string& type, const std::string& redop,
                int root, int cycle);
  void addCell(const CellResult& cell);
  void endRow();

  // Prints the footer and writes the JSON file (false if it could not be written).
  bool finish();
  // Cells with at least one wrong value: the "Out of bounds values" count.
  int failedCells() const { return failedCells_; }

 private:
  const Collective& coll_;
  const PerfOptions& opts_;
  RunInfo run_;
  std::vector<RowResult> rows_;
  int cellsInRow_ = 0;
  int failedCells_ = 0;
  double busBwSum_ = 0;
  int busBwCount_ = 0;
};

}  // namespace strata::perf
