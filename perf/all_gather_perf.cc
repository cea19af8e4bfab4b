// all_gather_perf: strataAllGather. As in nccl-tests, the size column is the gathered total:
// count elements per rank times the number of ranks.
#include "common/datatypes.h"
#include "common/perf_main.h"

namespace strata::perf {
namespace {

class AllGather final : public Collective {
 public:
  const char* name() const override { return "AllGather"; }
  const char* simKey() const override { return "allgather"; }
  double busBwFactor(int n) const override { return static_cast<double>(n - 1) / n; }

  CallShape shape(size_t bytes, strataDataType_t type, int, int nranks) const override {
    const auto n = static_cast<size_t>(nranks);
    CallShape s;
    s.count = bytes / typeSize(type) / n;
    s.sendElems = s.count;
    s.recvElems = s.count * n;
    s.sendInPlaceOffset = s.count;  // in place: rank r's block of recvbuff is its input
    s.bytes = s.recvElems * typeSize(type);
    return s;
  }

  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool) const override {
    auto* out = static_cast<char*>(expected);
    const size_t blockBytes = s.count * typeSize(tc.type);
    for (int j = 0; j < tc.nranks; ++j)
      perf::fillInput(out + static_cast<size_t>(j) * blockBytes, v, j, 0, s.count);
  }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    return strataAllGather(send, recv, s.count, tc.type, comm, stream);
  }
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::AllGather coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
