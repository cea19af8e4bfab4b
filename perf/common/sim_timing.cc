#include "common/sim_timing.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "common/datatypes.h"
#include "common/rank_sweep.h"

namespace strata::perf {
namespace {

CellResult evaluate(const Collective& coll, const SimTopology& topo, const CallShape& shape,
                    const TestCase& tc, bool inPlace) {
  const strataConfig_t defaults = STRATA_CONFIG_INITIALIZER;
  strataConfig_t config = simConfig(defaults, topo);
  strataSimResult_t r{};
  // A pre-multiplied sum is a communicator's op: it is timed as the Sum it runs (its one local
  // pre-multiply pass is not priced).
  const strataRedOp_t op = tc.op == kPreMulSum ? strataSum : tc.op;
  const strataResult_t rc = strataSimTimingOnly(&config, coll.simKey(), shape.count, tc.type, op,
                                                tc.root < 0 ? 0 : tc.root, inPlace ? 1 : 0, &r);
  if (rc != strataSuccess)
    throw std::runtime_error(
        std::string("strataSimTimingOnly (") + coll.simKey() + ", " + std::to_string(shape.bytes) +
        " bytes) failed: " + strataGetErrorString(rc) + ": " + strataGetLastError(nullptr));
  CellResult cell;
  cell.timeUs = r.simTimeUs;
  cell.algo = r.algo;
  cell.algoSource = r.algoSource;
  cell.algBw = r.simTimeUs > 0 ? static_cast<double>(shape.bytes) / r.simTimeUs / 1e3 : 0.0;
  cell.busBw = cell.algBw * coll.busBwFactor(topo.nranks);
  return cell;
}

}  // namespace

void runTimingOnly(const Collective& coll, const PerfOptions& opts, const SimTopology& topo,
                   Report& report) {
  const int n = topo.nranks;
  if (coll.rooted() && opts.root >= n)
    throw UsageError("-r " + std::to_string(opts.root) + " is not a rank of this " +
                     std::to_string(n) + "-rank run");
  std::vector<int> roots;
  if (!coll.rooted()) {
    roots = {-1};
  } else if (opts.root == -1) {
    for (int r = 0; r < n; ++r) roots.push_back(r);
  } else {
    roots = {opts.root};
  }
  const std::vector<strataRedOp_t> ops =
      coll.reduces() ? opts.ops : std::vector<strataRedOp_t>{strataSum};
  for (strataDataType_t type : opts.types) {
    for (strataRedOp_t op : ops) {
      for (int root : roots) {
        const TestCase tc{type, op, root, 0, n};
        for (int cycle = 0; opts.runCycles == 0 || cycle < opts.runCycles; ++cycle) {
          for (size_t bytes : sweepSizes(opts)) {
            const CallShape shape = coll.shape(bytes, type, 0, n);
            report.beginRow(shape.bytes, shape.count, typeName(type),
                            coll.reduces() ? opName(op) : "none", root, cycle);
            report.addCell(evaluate(coll, topo, shape, tc, false));
            report.addCell(evaluate(coll, topo, shape, tc, true));
            report.endRow();
          }
        }
      }
    }
  }
}

}  // namespace strata::perf
