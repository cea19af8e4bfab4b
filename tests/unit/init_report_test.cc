// What STRATA_DEBUG=INFO says once per communicator: the transport between each pair of ranks and
// the topology's levels; and the rank lists those lines use.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/logging.h"
#include "base/rank_list.h"
#include "strata/strata.h"

namespace strata {
namespace {

TEST(RankList, JoinsRunsAndCountsWhatIsLeftOut) {
  EXPECT_EQ(formatRankList({}), "none");
  EXPECT_EQ(formatRankList({3}), "3");
  EXPECT_EQ(formatRankList({5, 0, 1, 2, 3, 7, 8, 9, 2}), "0-3, 5, 7-9");
  EXPECT_EQ(formatRankList({0, 2, 4, 6, 8}, 3), "0, 2, 4 and 2 more");
}

class InitReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "strata-init-report-" + std::to_string(getpid()) + ".txt";
    setenv("STRATA_DEBUG", "INFO", 1);
    setenv("STRATA_DEBUG_FILE", path_.c_str(), 1);
    reloadLogConfig();
  }
  void TearDown() override {
    unsetenv("STRATA_DEBUG");
    unsetenv("STRATA_DEBUG_FILE");
    reloadLogConfig();
    std::remove(path_.c_str());
  }

  // Initialises nranks ranks as threads with config, then destroys them; returns the log.
  std::string logOfInit(int nranks, const strataConfig_t* config) {
    std::vector<strataComm_t> comms(static_cast<size_t>(nranks));
    EXPECT_EQ(strataCommInitAll(comms.data(), nranks, config), strataSuccess)
        << strataGetLastError(nullptr);
    for (strataComm_t c : comms)
      if (c) strataCommDestroy(c);
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  static size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  std::string path_;
};

TEST_F(InitReportTest, SharedMemoryOnOneHost) {
  const std::string log = logOfInit(3, nullptr);
  EXPECT_EQ(count(log, "[0] STRATA INFO transport: shm between every pair of the 3 ranks"), 1u)
      << log;
  EXPECT_EQ(count(log, "STRATA INFO transport:"), 1u) << log;  // once per communicator
  EXPECT_EQ(count(log,
                  "[0] STRATA INFO topology 'hosts' (3 ranks): level 0 'shm' 1 group "
                  "(ranks 0-2)"),
            1u)
      << log;
}

TEST_F(InitReportTest, SimulatedMeshNamesTheSimAndThePresetLevels) {
  strataConfig_t config = STRATA_CONFIG_INITIALIZER;
  config.transport = "sim";
  config.topoFile = "hccs-2x8";
  const std::string log = logOfInit(16, &config);
  EXPECT_EQ(count(log, "STRATA INFO transport: sim between every pair of the 16 ranks"), 1u) << log;
  EXPECT_EQ(count(log, "STRATA INFO topology 'hccs-2x8' (16 ranks): level 0 "), 1u) << log;
  EXPECT_NE(log.find("2 groups (ranks 0-7 | 8-15)"), std::string::npos) << log;
  EXPECT_NE(log.find("; level 1 "), std::string::npos) << log;
}

}  // namespace
}  // namespace strata
