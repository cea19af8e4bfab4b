// sendrecv_perf: every rank sends to rank+1 and receives from rank-1 in one group, as in
// nccl-tests. The in-place variant sends and receives through one buffer, which has no defined
// result, so (as in nccl-tests) it is timed but not checked.
#include "common/datatypes.h"
#include "common/perf_main.h"

namespace strata::perf {
namespace {

class SendRecv final : public Collective {
 public:
  const char* name() const override { return "SendRecv"; }
  bool checksInPlace() const override { return false; }
  double busBwFactor(int) const override { return 1.0; }

  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool) const override {
    perf::fillInput(expected, v, (tc.rank + tc.nranks - 1) % tc.nranks, 0, s.count);
  }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    const int next = (tc.rank + 1) % tc.nranks;
    const int prev = (tc.rank + tc.nranks - 1) % tc.nranks;
    strataResult_t r = strataGroupStart();
    if (r != strataSuccess) return r;
    strataResult_t sent = strataSend(send, s.count, tc.type, next, comm, stream);
    strataResult_t received = strataRecv(recv, s.count, tc.type, prev, comm, stream);
    r = strataGroupEnd();
    if (sent != strataSuccess) return sent;
    if (received != strataSuccess) return received;
    return r;
  }
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::SendRecv coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
