// reduce_scatter_perf: strataReduceScatter. As in nccl-tests, the size column is the reduced
// total: count elements per rank times the number of ranks.
#include "common/perf_main.h"
#include "common/rank_blocks.h"

namespace strata::perf {
namespace {

class ReduceScatter final : public Collective {
 public:
  const char* name() const override { return "ReduceScatter"; }
  const char* simKey() const override { return "reducescatter"; }
  bool reduces() const override { return true; }
  double busBwFactor(int n) const override { return static_cast<double>(n - 1) / n; }

  CallShape shape(size_t bytes, strataDataType_t type, int, int nranks) const override {
    return scatteredShape(bytes, type, nranks);
  }

  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool) const override {
    fillReduced(expected, v, tc.nranks, static_cast<size_t>(tc.rank) * s.count, s.count);
  }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    return strataReduceScatter(send, recv, s.count, tc.type, tc.op, comm, stream);
  }
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::ReduceScatter coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
