// scatter_perf: strataScatter from the root given by -r (-1: every rank in turn). As in
// nccl-tests, the size column is the scattered total (count elements per rank times the number
// of ranks) and busbw = algbw * (n-1)/n.
#include "common/perf_main.h"
#include "common/rank_blocks.h"

namespace strata::perf {
namespace {

class Scatter final : public Collective {
 public:
  const char* name() const override { return "Scatter"; }
  const char* simKey() const override { return "scatter"; }
  bool rooted() const override { return true; }
  double busBwFactor(int n) const override { return static_cast<double>(n - 1) / n; }

  CallShape shape(size_t bytes, strataDataType_t type, int, int nranks) const override {
    return scatteredShape(bytes, type, nranks);
  }

  // Only the root has an input: block r of it is rank r's output.
  void fillInput(void* send, const CallShape& s, const TestCase& tc,
                 const ValueSpec& v) const override {
    if (tc.rank == tc.root) perf::fillInput(send, v, tc.rank, 0, s.sendElems);
  }

  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool) const override {
    perf::fillInput(expected, v, tc.root, static_cast<size_t>(tc.rank) * s.count, s.count);
  }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    return strataScatter(send, recv, s.count, tc.type, tc.root, comm, stream);
  }
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::Scatter coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
