// alltoall_perf: strataAllToAll. The size column is what each rank sends in total: count elements
// to each of the ranks.
#include "common/datatypes.h"
#include "common/perf_main.h"
#include "common/rank_blocks.h"

namespace strata::perf {
namespace {

class AllToAll final : public Collective {
 public:
  const char* name() const override { return "AllToAll"; }
  const char* simKey() const override { return "alltoall"; }
  double busBwFactor(int n) const override { return static_cast<double>(n - 1) / n; }

  CallShape shape(size_t bytes, strataDataType_t type, int, int nranks) const override {
    const auto n = static_cast<size_t>(nranks);
    CallShape s;
    s.count = bytes / typeSize(type) / n;
    s.sendElems = s.recvElems = s.count * n;
    s.bytes = s.sendElems * typeSize(type);
    return s;
  }

  // Block j comes from rank j: its block addressed to this rank.
  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool) const override {
    fillRankBlocks(expected, s.count, tc, v, static_cast<size_t>(tc.rank) * s.count);
  }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    return strataAllToAll(send, recv, s.count, tc.type, comm, stream);
  }
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::AllToAll coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
