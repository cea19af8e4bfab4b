#include "common/report.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/collective.h"

namespace strata::perf {
namespace {

std::string timeText(double us) {
  char buf[32];
  if (us >= 10000.0) {
    std::snprintf(buf, sizeof buf, "%7.0f", us);
  } else if (us >= 100.0) {
    std::snprintf(buf, sizeof buf, "%7.1f", us);
  } else {
    std::snprintf(buf, sizeof buf, "%7.2f", us);
  }
  return buf;
}

nlohmann::ordered_json cellJson(const CellResult& c) {
  nlohmann::ordered_json j;
  j["time_us"] = c.timeUs;
  j["algbw_gbps"] = c.algBw;
  j["busbw_gbps"] = c.busBw;
  j["wrong"] = c.checked ? nlohmann::ordered_json(c.wrong) : nlohmann::ordered_json(nullptr);
  if (c.maxAbsError >= 0) j["max_abs_error"] = c.maxAbsError;
  if (!c.algo.empty()) j["algo"] = c.algo;
  if (!c.algoSource.empty()) j["algo_source"] = c.algoSource;
  return j;
}

}  // namespace

Report::Report(const Collective& coll, const PerfOptions& opts, RunInfo run)
    : coll_(coll), opts_(opts), run_(std::move(run)) {}

void Report::printHeader(const std::vector<RankIdentity>& ranks) {
  int version = 0;
  strataGetVersion(&version);
  if (run_.timingOnly) {
    std::printf("# Strata %d.%d.%d %s: %s, %d ranks (timing-only evaluation, no ranks run)\n",
                version / 10000, version / 100 % 100, version % 100, run_.tool.c_str(),
                coll_.name(), run_.nranks);
  } else {
    std::printf("# Strata %d.%d.%d %s: %s, %d ranks (%d processes x %d threads, %s)\n",
                version / 10000, version / 100 % 100, version % 100, run_.tool.c_str(),
                coll_.name(), run_.nranks, run_.nprocs, run_.threads, run_.launcher.c_str());
  }
  if (!run_.simLine.empty()) std::printf("# %s\n", run_.simLine.c_str());
  const bool factor = opts_.stepFactor > 1;
  const size_t step = factor ? static_cast<size_t>(opts_.stepFactor) : opts_.stepBytes;
  if (run_.timingOnly) {
    // Nothing runs: no threads, warm-up, iterations, validation or blocking apply.
    std::printf(
        "# minBytes %zu maxBytes %zu step: %zu(%s): each size evaluated once, no "
        "payload and no validation\n",
        opts_.minBytes, opts_.maxBytes, step, factor ? "factor" : "bytes");
  } else {
    std::printf(
        "# nThread %d nGpus 1 minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d iters: %d "
        "agg iters: %d validation: %d graph: 0\n",
        run_.threads, opts_.minBytes, opts_.maxBytes, step, factor ? "factor" : "bytes",
        opts_.warmupIters, opts_.iters, opts_.aggIters, opts_.check);
    if (opts_.blocking)
      std::printf("# Blocking Enabled: wait for completion and barrier after each collective\n");
    if (!opts_.streamNull) std::printf("# Calls queued on a Strata stream per rank\n");
    if (opts_.registration)
      std::printf("# Registered buffers (-R %d): strataMemAlloc memory registered as windows\n",
                  opts_.registration);
  }
  if (opts_.runCycles != 1) {
    if (opts_.runCycles == 0)
      std::printf("# Run cycles: the sweep repeats until the tool is stopped\n");
    else
      std::printf("# Run cycles: %d, each printed\n", opts_.runCycles);
  }
  for (const std::string& line : coll_.describe(opts_.maxBytes, run_.nranks))
    std::printf("# %s\n", line.c_str());
  if (!ranks.empty()) {
    std::printf("#\n# Using devices\n");
    if (!run_.simSpec.empty())
      std::printf(
          "# (simulated: rank r is a thread of this process standing for device r of "
          "'%s'; bytes move through memory, times come from its link model)\n",
          run_.simSpec.c_str());
    for (const RankIdentity& r : ranks) {
      if (run_.simSpec.empty())
        std::printf("#  Rank %2d Group  0 Pid %6d on %10s device cpu\n", r.rank, r.pid,
                    r.host.c_str());
      else
        std::printf("#  Rank %2d Group  0 Pid %6d on %10s device %2d [sim] %s\n", r.rank, r.pid,
                    r.host.c_str(), r.rank, run_.simSpec.c_str());
    }
  }
  std::printf("#\n");
  const char* time = opts_.reportCpuTime ? "cputime" : "time";
  if (coll_.reportsError()) {
    // The quantised gather: each variant also shows the largest absolute error against the
    // unquantised gather; #wrong counts the elements beyond the documented bound.
    std::printf(
        "# %10s  %12s  %8s  %6s  %6s           out-of-place                                "
        "in-place          \n",
        "", "", "", "", "");
    std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s %9s  %7s  %6s  %6s %6s %9s\n",
                "size", "count", "type", "redop", "root", time, "algbw", "busbw", "#wrong",
                "maxerr", time, "algbw", "busbw", "#wrong", "maxerr");
    std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s %9s  %7s  %6s  %6s  %5s %9s\n",
                "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(abs)", "(us)",
                "(GB/s)", "(GB/s)", "", "(abs)");
    std::fflush(stdout);
    return;
  }
  std::printf(
      "# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place"
      "          \n",
      "", "", "", "", "");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s  %7s  %6s  %6s %6s\n", "size",
              "count", "type", "redop", "root", time, "algbw", "busbw", "#wrong", time, "algbw",
              "busbw", "#wrong");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s  %7s  %6s  %6s  %5s\n", "(B)",
              "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)",
              "");
  std::fflush(stdout);
}

void Report::beginRow(size_t bytes, size_t count, const std::string& type, const std::string& redop,
                      int root, int cycle) {
  RowResult row;
  row.cycle = cycle;
  row.bytes = bytes;
  row.count = count;
  row.type = type;
  row.redop = redop;
  row.root = root;
  rows_.push_back(row);
  cellsInRow_ = 0;
  std::printf("%12zu  %12zu  %8s  %6s  %6d", bytes, count, type.c_str(), redop.c_str(), root);
  std::fflush(stdout);
}

void Report::addCell(const CellResult& cell) {
  RowResult& row = rows_.back();
  (cellsInRow_++ == 0 ? row.outOfPlace : row.inPlace) = cell;
  if (cell.checked) {
    std::printf("  %7s  %6.2f  %6.2f  %5lld", timeText(cell.timeUs).c_str(), cell.algBw, cell.busBw,
                static_cast<long long>(cell.wrong));
    if (cell.wrong != 0) ++failedCells_;
  } else {
    std::printf("  %7s  %6.2f  %6.2f  %5s", timeText(cell.timeUs).c_str(), cell.algBw, cell.busBw,
                "N/A");
  }
  if (coll_.reportsError()) {
    if (cell.maxAbsError >= 0)
      std::printf(" %9.3g", cell.maxAbsError);
    else
      std::printf(" %9s", "N/A");
  }
  busBwSum_ += cell.busBw;
  ++busBwCount_;
  std::fflush(stdout);
}

void Report::endRow() {
  std::printf("\n");
  std::fflush(stdout);
}

bool Report::finish() {
  const double avgBusBw = busBwCount_ ? busBwSum_ / busBwCount_ : 0.0;
  std::printf("# Out of bounds values : %d %s\n", failedCells_, failedCells_ ? "FAILED" : "OK");
  std::printf("# Avg bus bandwidth    : %g \n", avgBusBw);
  std::printf("#\n");
  std::fflush(stdout);
  if (opts_.jsonFile.empty()) return true;

  nlohmann::ordered_json doc;
  int version = 0;
  strataGetVersion(&version);
  doc["tool"] = run_.tool;
  doc["collective"] = coll_.name();
  doc["strata_version"] = std::to_string(version / 10000) + "." +
                          std::to_string(version / 100 % 100) + "." + std::to_string(version % 100);
  doc["launcher"] = run_.launcher;
  doc["nranks"] = run_.nranks;
  doc["nprocs"] = run_.nprocs;
  doc["nthreads"] = run_.threads;
  nlohmann::ordered_json p;
  p["minbytes"] = opts_.minBytes;
  p["maxbytes"] = opts_.maxBytes;
  p["stepbytes"] = opts_.stepBytes;
  p["stepfactor"] = opts_.stepFactor;
  p["iters"] = opts_.iters;
  p["warmup_iters"] = opts_.warmupIters;
  p["agg_iters"] = opts_.aggIters;
  p["check"] = opts_.check;
  p["datatype"] = opts_.typeText;
  p["op"] = opts_.opText;
  p["root"] = opts_.root;
  p["average"] = opts_.average;
  p["blocking"] = opts_.blocking;
  p["stream_null"] = opts_.streamNull;
  p["timeout"] = opts_.timeoutSec;
  p["report_cputime"] = opts_.reportCpuTime;
  p["run_cycles"] = opts_.runCycles;
  if (!opts_.sim.empty()) {
    p["sim"] = opts_.sim;
    p["timing_only"] = opts_.timingOnly;
  }
  for (const auto& [name, value] : coll_.parameters()) p[name] = value;
  doc["parameters"] = p;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const RowResult& r : rows_) {
    nlohmann::ordered_json row;
    row["size"] = r.bytes;
    row["count"] = r.count;
    row["type"] = r.type;
    row["redop"] = r.redop;
    row["root"] = r.root;
    row["cycle"] = r.cycle;
    row["algo"] = r.outOfPlace.algo;
    row["algo_source"] = r.outOfPlace.algoSource;
    row["out_of_place"] = cellJson(r.outOfPlace);
    row["in_place"] = cellJson(r.inPlace);
    rows.push_back(row);
  }
  doc["results"] = rows;
  doc["out_of_bounds"] = failedCells_;
  doc["avg_busbw_gbps"] = avgBusBw;
  doc["ok"] = failedCells_ == 0;

  std::ofstream out(opts_.jsonFile);
  out << doc.dump(2) << "\n";
  out.close();
  if (!out) {
    std::fprintf(stderr, "%s: cannot write %s\n", run_.tool.c_str(), opts_.jsonFile.c_str());
    return false;
  }
  return true;
}

}  // namespace strata::perf
