// reduce_perf: strataReduce to the root given by -r (-1: every rank in turn). The other ranks'
// receive buffers must come back untouched.
#include <cstring>

#include "common/datatypes.h"
#include "common/perf_main.h"

namespace strata::perf {
namespace {

class Reduce final : public Collective {
 public:
  const char* name() const override { return "Reduce"; }
  const char* simKey() const override { return "reduce"; }
  bool reduces() const override { return true; }
  bool rooted() const override { return true; }
  double busBwFactor(int) const override { return 1.0; }

  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool inPlace) const override {
    if (tc.rank == tc.root) {
      fillReduced(expected, v, tc.nranks, 0, s.count);
    } else if (inPlace) {
      perf::fillInput(expected, v, tc.rank, 0, s.count);  // its input, unchanged
    } else {
      std::memset(expected, 0, s.count * typeSize(tc.type));  // zeroed, unchanged
    }
  }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    return strataReduce(send, recv, s.count, tc.type, tc.op, tc.root, comm, stream);
  }
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::Reduce coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
