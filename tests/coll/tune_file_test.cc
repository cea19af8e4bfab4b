// STRATA_TUNE_FILE on communicators: read at init, a matching file's entry decides the algorithm
// (statistics name the source "tune file"), a file made for another topology is refused (the
// model decides), a malformed file fails init naming the path and the problem.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "coll/coll_harness.h"
#include "scheduler/topology_fingerprint.h"
#include "topology/presets/presets.h"

namespace strata::test {
namespace {

// A tune file at a temporary path, named by STRATA_TUNE_FILE while the object lives.
class TuneFileEnv {
 public:
  explicit TuneFileEnv(const std::string& text) {
    path_ = "/tmp/strata_tune_file_test_" + std::to_string(getpid()) + ".json";
    std::ofstream(path_) << text;
    setenv("STRATA_TUNE_FILE", path_.c_str(), 1);
  }
  ~TuneFileEnv() {
    unsetenv("STRATA_TUNE_FILE");
    std::remove(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string fileFor(const char* preset, const std::string& entries) {
  const std::string fp = topologyFingerprint(topologyPreset(preset).value());
  return R"({"version": 1, "fingerprint": ")" + fp + R"(", "entries": [)" + entries + "]}";
}

strataConfig_t simOn(const char* topo, const char* algo = nullptr) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.transport = "sim";
  cfg.topoFile = topo;
  cfg.algo = algo;
  cfg.timeoutMs = 60000;
  return cfg;
}

// AllReduce of `count` float32 ones on 8 ranks, expecting the algorithm (null: any) and source.
void allReduceOnes(strataComm_t comm, size_t count, const char* algo, const char* source) {
  std::vector<float> x(count, 1.0f);
  ASSERT_EQ(strataAllReduce(x.data(), x.data(), count, strataFloat32, strataSum, comm, nullptr),
            strataSuccess)
      << strataGetLastError(comm);
  for (float v : x) ASSERT_EQ(v, 8.0f);
  strataStats_t s{};
  ASSERT_EQ(strataCommGetStats(comm, &s), strataSuccess);
  if (algo) {
    EXPECT_STREQ(s.lastAlgo, algo) << count * 4 << " bytes";
  }
  EXPECT_STREQ(s.lastAlgoSource, source) << count * 4 << " bytes";
}

TEST(TuneFileComm, AnEntryDecidesOnHccs8AndTheTuneStringStillWins) {
  const TuneFileEnv env(fileFor(
      "hccs-8", R"({"collective": "allreduce", "maxBytes": 65536, "ranks": 8, "algorithm": "ring"})"));
  runRanksWith(8, simOn("hccs-8"), [](int, strataComm_t comm) {
    allReduceOnes(comm, 4096, "ring", "tune file");  // the model picks oneshot here
    allReduceOnes(comm, 1 << 18, nullptr, "model");  // 1 MiB: outside the entry
  });
  runRanksWith(8, simOn("hccs-8", "allreduce:0-64k:@oneshot"), [](int, strataComm_t comm) {
    allReduceOnes(comm, 4096, "oneshot", "tune string");
  });
}

TEST(TuneFileComm, AnotherTopologysFileIsRefused) {
  const TuneFileEnv env(fileFor("hccs-2x8", R"({"collective": "allreduce", "algorithm": "ring"})"));
  runRanksWith(8, simOn("hccs-8"), [](int, strataComm_t comm) {
    allReduceOnes(comm, 4096, "oneshot", "model");
  });
}

TEST(TuneFileComm, AMalformedFileFailsInitNamingThePathAndTheEntry) {
  const TuneFileEnv env(
      fileFor("hccs-8", R"({"collective": "allreduce", "algorithm": "twoshots"})"));
  std::vector<strataComm_t> comms(8, nullptr);
  const strataConfig_t cfg = simOn("hccs-8");
  EXPECT_EQ(strataCommInitAll(comms.data(), 8, &cfg), strataInvalidArgument);
  const std::string msg = strataGetLastError(nullptr);
  EXPECT_NE(msg.find(env.path()), std::string::npos) << msg;
  EXPECT_NE(msg.find("/entries/0/algorithm: no algorithm 'twoshots' for allreduce (valid:"),
            std::string::npos)
      << msg;
}

}  // namespace
}  // namespace strata::test
