// all_gather_perf: strataAllGather. As in nccl-tests, the size column is the gathered total:
// count elements per rank times the number of ranks.
//
// -q int8|int4|fp8 [-B BLOCK] runs strataAllGatherQuantized instead (blocks of BLOCK elements,
// default 128, one scale each). algbw and busbw still count bytes of the source type (-d), so
// they compare directly with a plain run of the same -d; the check compares with the unquantised
// gather against the documented error bound instead of bit patterns, and a maxerr column shows
// the largest absolute error.
#include <CLI/CLI.hpp>

#include "common/datatypes.h"
#include "common/options.h"
#include "common/perf_main.h"
#include "common/quant_error.h"
#include "common/rank_blocks.h"

namespace strata::perf {
namespace {

class AllGather final : public Collective {
 public:
  const char* name() const override { return quant_ ? "AllGatherQuantized" : "AllGather"; }
  // Timing-only evaluation knows the plain AllGather only.
  const char* simKey() const override { return quant_ ? nullptr : "allgather"; }
  double busBwFactor(int n) const override { return static_cast<double>(n - 1) / n; }

  void addOptions(CLI::App& app) override {
    app.add_option("-q,--quant", quantText_,
                   "gather through a low-bit format: int8, int4 or fp8 (e4m3), with one float32 "
                   "scale per block; algbw/busbw count bytes of -d")
        ->check(
            [this](const std::string& text) -> std::string {
              auto q = parseQuant(text);
              if (!q) return "expected int8, int4 or fp8";
              quant_ = q;
              return {};
            },
            "int8|int4|fp8");
    app.add_option("-B,--block", blockElems_, "with -q: elements per scale (default 128)")
        ->check(CLI::Range(size_t{1}, size_t{1} << 40));
  }

  std::optional<std::string> checkOptions(const PerfOptions& o) const override {
    if (!quant_) return std::nullopt;
    for (strataDataType_t t : o.types)
      if (t != strataFloat32 && t != strataFloat16 && t != strataBfloat16)
        return std::string("-q ") + quantText_ + ": -d " + typeName(t) +
               " cannot be quantised; choose float, half or bfloat16";
    return std::nullopt;
  }

  std::vector<std::pair<std::string, std::string>> parameters() const override {
    if (!quant_) return {};
    return {{"quant", quantText(*quant_)}, {"block", std::to_string(blockElems_)}};
  }

  std::vector<std::string> describe(size_t, int) const override {
    if (!quant_) return {};
    return {std::string("Quantised: ") + quantText(*quant_) + ", one float32 scale per block of " +
            std::to_string(blockElems_) +
            " elements; algbw/busbw in bytes of the source type; #wrong counts elements beyond "
            "the error bound, maxerr is the largest absolute error"};
  }

  CallShape shape(size_t bytes, strataDataType_t type, int, int nranks) const override {
    return gatheredShape(bytes, type, nranks);
  }

  // The unquantised gather: every rank's input, in rank order.
  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool) const override {
    fillRankBlocks(expected, s.count, tc, v, 0);
  }

  size_t countWrong(const void* got, const void* expected, const CallShape& s, const TestCase& tc,
                    double* maxAbsError) const override {
    if (!quant_) return Collective::countWrong(got, expected, s, tc, maxAbsError);
    const QuantErrors e =
        measureQuantErrors(got, expected, s.count, tc.nranks, tc.type, *quant_, blockElems_);
    *maxAbsError = e.maxAbsError;
    return e.beyondBound;
  }
  bool reportsError() const override { return quant_.has_value(); }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    if (quant_)
      return strataAllGatherQuantized(send, recv, s.count, tc.type, *quant_, blockElems_, comm,
                                      stream);
    return strataAllGather(send, recv, s.count, tc.type, comm, stream);
  }

 private:
  std::string quantText_;
  std::optional<strataQuant_t> quant_;
  size_t blockElems_ = 128;
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::AllGather coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
