// alltoallv_perf: strataAllToAllv with MoE-like skewed counts (--dist uniform|zipf:S). Every rank
// sends the size column's bytes in total; how they split over destinations is drawn from the
// distribution, identically on every rank, so the hot destinations receive more than they send.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "common/datatypes.h"
#include "common/perf_main.h"
#include "common/token_routing.h"

namespace strata::perf {
namespace {

uint64_t countsSeed(size_t perRank) { return 0xa110a11full ^ (perRank * 0x9e3779b97f4a7c15ull); }

class AllToAllv final : public Collective {
 public:
  const char* name() const override { return "AllToAllv"; }
  double busBwFactor(int n) const override { return static_cast<double>(n - 1) / n; }

  void addOptions(CLI::App& app) override {
    app.add_option("--dist", distText_,
                   "destination popularity of the counts: uniform, or zipf:S (weight 1/k^S for "
                   "the k-th most popular rank)")
        ->check(
            [this](const std::string& text) -> std::string {
              auto d = parseRoutingDist(text);
              if (!d) return "expected uniform or zipf:S with S >= 0";
              dist_ = *d;
              return {};
            },
            "uniform|zipf:S");
  }

  std::vector<std::pair<std::string, std::string>> parameters() const override {
    return {{"dist", dist_.text}};
  }

  std::vector<std::string> describe(size_t maxBytes, int nranks) const override {
    const size_t perRank =
        maxBytes / sizeof(float) / static_cast<size_t>(nranks) * static_cast<size_t>(nranks);
    const auto counts = drawRoutingCounts(perRank, nranks, dist_, countsSeed(perRank));
    size_t lo = SIZE_MAX, hi = 0;
    for (int d = 0; d < nranks; ++d) {
      size_t received = 0;
      for (const auto& row : counts) received += row[static_cast<size_t>(d)];
      lo = std::min(lo, received);
      hi = std::max(hi, received);
    }
    char line[200];
    std::snprintf(line, sizeof line,
                  "AllToAllv counts: %s; at %zu bytes of float per rank, ranks receive %zu to "
                  "%zu bytes",
                  dist_.text.c_str(), perRank * sizeof(float), lo * sizeof(float),
                  hi * sizeof(float));
    return {line};
  }

  CallShape shape(size_t bytes, strataDataType_t type, int rank, int nranks) const override {
    const auto n = static_cast<size_t>(nranks);
    const auto me = static_cast<size_t>(rank);
    const size_t perRank = bytes / typeSize(type) / n * n;
    const auto counts = drawRoutingCounts(perRank, nranks, dist_, countsSeed(perRank));
    CallShape s;
    s.count = perRank / n;
    s.bytes = perRank * typeSize(type);
    s.sendcounts = counts[me];
    s.sdispls.assign(n, 0);
    s.recvcounts.assign(n, 0);
    s.rdispls.assign(n, 0);
    s.sourceOffsets.assign(n, 0);
    for (size_t j = 0; j < n; ++j) {
      if (j > 0) {
        s.sdispls[j] = s.sdispls[j - 1] + s.sendcounts[j - 1];
        s.rdispls[j] = s.rdispls[j - 1] + counts[j - 1][me];
      }
      s.recvcounts[j] = counts[j][me];
      s.sourceOffsets[j] = std::accumulate(counts[j].begin(), counts[j].begin() + rank, size_t{0});
    }
    s.sendElems = perRank;
    s.recvElems = std::accumulate(s.recvcounts.begin(), s.recvcounts.end(), size_t{0});
    return s;
  }

  void fillExpected(void* expected, const CallShape& s, const TestCase& tc, const ValueSpec& v,
                    bool) const override {
    auto* out = static_cast<char*>(expected);
    const size_t ts = typeSize(tc.type);
    for (int j = 0; j < tc.nranks; ++j) {
      const auto i = static_cast<size_t>(j);
      perf::fillInput(out + s.rdispls[i] * ts, v, j, s.sourceOffsets[i], s.recvcounts[i]);
    }
  }

  strataResult_t run(const void* send, void* recv, const CallShape& s, const TestCase& tc,
                     strataComm_t comm, strataStream_t stream) const override {
    return strataAllToAllv(send, s.sendcounts.data(), s.sdispls.data(), recv, s.recvcounts.data(),
                           s.rdispls.data(), tc.type, comm, stream);
  }

 private:
  std::string distText_ = "uniform";
  RoutingDist dist_;
};

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  strata::perf::AllToAllv coll;
  return strata::perf::runPerfTool(argc, argv, coll);
}
