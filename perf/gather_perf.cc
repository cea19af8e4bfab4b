// gather_perf: strataGather to the root given by -r (-1: every rank in turn). As in nccl-tests,
// the size column is the gathered total (count elements per rank times the number of ranks) and
// busbw = algbw * (n-1)/n. The other ranks' receive buffers must come back untouched.
#include <cstring>

#include "common/datatypes.h"
#include "common/perf_main.h"
#include "common/rank_blocks.h"

namespace strata::perf {
namespace {

class Gather final : public Collective {
 public:
  const char* name() const override { return "Gather"; }
  const char* simKey() const override { return "gather"; }
  bool rooted() const override { return true; }
  double busBwFactor(int n) const override { return static_cast<double>(n - 1) / n; }

  CallShape shape(size_t bytes, strataDataType_t type, int, int nranks) const override {
    return gatheredShape(bytes, type, nranks);
  }

  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool inPlace) const override {
    if (tc.rank == tc.root) {
      fillRankBlocks(expected, s.count, tc, v, 0);
      return;
    }
    auto* out = static_cast<char*>(expected);
    std::memset(out, 0, s.recvElems * typeSize(tc.type));  // zeroed, unchanged
    if (inPlace)  // its input, unchanged, in its own block
      perf::fillInput(out + static_cast<size_t>(tc.rank) * s.count * typeSize(tc.type), v, tc.rank,
                      0, s.count);
  }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    return strataGather(send, recv, s.count, tc.type, tc.root, comm, stream);
  }
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::Gather coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
