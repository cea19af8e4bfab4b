// all_reduce_perf: strataAllReduce, as nccl-tests' all_reduce_perf measures ncclAllReduce.
#include "common/datatypes.h"
#include "common/perf_main.h"

namespace strata::perf {
namespace {

class AllReduce final : public Collective {
 public:
  const char* name() const override { return "AllReduce"; }
  const char* simKey() const override { return "allreduce"; }
  bool reduces() const override { return true; }
  double busBwFactor(int n) const override { return 2.0 * (n - 1) / n; }

  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool) const override {
    fillReduced(expected, v, tc.nranks, 0, s.count);
  }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    return strataAllReduce(send, recv, s.count, tc.type, tc.op, comm, stream);
  }
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::AllReduce coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
