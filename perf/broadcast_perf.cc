// broadcast_perf: strataBroadcast from the root given by -r (-1: every rank in turn).
#include "common/datatypes.h"
#include "common/perf_main.h"

namespace strata::perf {
namespace {

class Broadcast final : public Collective {
 public:
  const char* name() const override { return "Broadcast"; }
  const char* simKey() const override { return "broadcast"; }
  bool rooted() const override { return true; }
  double busBwFactor(int) const override { return 1.0; }

  // Only the root has an input; the other ranks' buffers stay zero until the call fills them.
  void fillInput(void* send, const CallShape& s, const TestCase& tc,
                 const ValueSpec& v) const override {
    if (tc.rank == tc.root) perf::fillInput(send, v, tc.rank, 0, s.count);
  }

  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool) const override {
    perf::fillInput(expected, v, tc.root, 0, s.count);
  }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    return strataBroadcast(send, recv, s.count, tc.type, tc.root, comm, stream);
  }
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::Broadcast coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
