// Log lines are shaped "host:pid:tid [rank] STRATA LEVEL message", honour the level and subsystem
// filters, and go to STRATA_DEBUG_FILE with %h and %p expanded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "base/logging.h"
#include "strata/strata.h"

namespace strata {
namespace {

class LoggingTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("STRATA_DEBUG");
    unsetenv("STRATA_DEBUG_SUBSYS");
    unsetenv("STRATA_DEBUG_FILE");
    reloadLogConfig();
    if (!path_.empty()) std::remove(path_.c_str());
  }

  // Points the log at a fresh file named with %h and %p; returns the expanded path.
  std::string logToFile() {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    std::string h(host);
    if (auto dot = h.find('.'); dot != std::string::npos) h.resize(dot);
    const std::string pattern = ::testing::TempDir() + "strata-log-%h-%p.txt";
    setenv("STRATA_DEBUG_FILE", pattern.c_str(), 1);
    path_ = ::testing::TempDir() + "strata-log-" + h + "-" + std::to_string(getpid()) + ".txt";
    return path_;
  }

  std::string contents() {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string path_;
};

TEST_F(LoggingTest, LineNamesHostPidThreadAndRank) {
  logToFile();
  setenv("STRATA_DEBUG", "INFO", 1);
  reloadLogConfig();
  {
    RankScope rank(3);
    STRATA_INFO(Subsys::kInit, "hello %d", 42);
  }
  STRATA_INFO(Subsys::kInit, "no rank");
  const std::string text = contents();
  EXPECT_TRUE(std::regex_search(text, std::regex("^[^:\\s]+:" + std::to_string(getpid()) +
                                                 ":[0-9]+ \\[3\\] STRATA INFO hello 42\n")))
      << text;
  EXPECT_NE(text.find("[-] STRATA INFO no rank"), std::string::npos) << text;
}

TEST_F(LoggingTest, LevelFiltersMessages) {
  logToFile();
  setenv("STRATA_DEBUG", "WARN", 1);
  reloadLogConfig();
  STRATA_INFO(Subsys::kInit, "info-hidden");
  STRATA_WARN("warn-shown");
  const std::string text = contents();
  EXPECT_EQ(text.find("info-hidden"), std::string::npos);
  EXPECT_NE(text.find("STRATA WARN warn-shown"), std::string::npos) << text;
}

TEST_F(LoggingTest, SubsystemFilterIncludesAndExcludes) {
  logToFile();
  setenv("STRATA_DEBUG", "TRACE", 1);
  setenv("STRATA_DEBUG_SUBSYS", "^COLL", 1);
  reloadLogConfig();
  STRATA_TRACE(Subsys::kColl, "coll-hidden");
  STRATA_TRACE(Subsys::kBootstrap, "bootstrap-shown");
  const std::string text = contents();
  EXPECT_EQ(text.find("coll-hidden"), std::string::npos) << text;
  EXPECT_NE(text.find("STRATA TRACE bootstrap-shown"), std::string::npos) << text;
}

TEST_F(LoggingTest, SilentByDefault) {
  logToFile();
  unsetenv("STRATA_DEBUG");
  reloadLogConfig();
  STRATA_WARN("nothing");
  EXPECT_EQ(contents().find("nothing"), std::string::npos);
}

size_t countOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(LoggingTest, VersionLevelShowsTheVersionOnceAndNothingElse) {
  logToFile();
  setenv("STRATA_DEBUG", "VERSION", 1);
  reloadLogConfig();
  logVersionOnce();
  logVersionOnce();
  STRATA_WARN("a warning");
  STRATA_INFO(Subsys::kInit, "some info");
  const std::string text = contents();
  const std::string version = "STRATA INFO Strata version " + std::to_string(STRATA_MAJOR) + "." +
                              std::to_string(STRATA_MINOR) + "." + std::to_string(STRATA_PATCH);
  EXPECT_EQ(countOf(text, version), 1u) << text;
  EXPECT_EQ(text.find("a warning"), std::string::npos) << text;
  EXPECT_EQ(text.find("some info"), std::string::npos) << text;
}

TEST_F(LoggingTest, WarnLevelShowsTheVersionAndWarnings) {
  logToFile();
  setenv("STRATA_DEBUG", "WARN", 1);
  reloadLogConfig();
  logVersionOnce();
  STRATA_WARN("a warning");
  STRATA_INFO(Subsys::kInit, "some info");
  const std::string text = contents();
  EXPECT_EQ(countOf(text, "Strata version"), 1u) << text;
  EXPECT_NE(text.find("STRATA WARN a warning"), std::string::npos) << text;
  EXPECT_EQ(text.find("some info"), std::string::npos) << text;
}

TEST_F(LoggingTest, AnUnknownLevelIsNamedAndLogsNothing) {
  logToFile();
  setenv("STRATA_DEBUG", "LOUD", 1);
  ::testing::internal::CaptureStderr();
  reloadLogConfig();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("STRATA_DEBUG=LOUD"), std::string::npos) << err;
  STRATA_WARN("a warning");
  logVersionOnce();
  EXPECT_EQ(contents(), "");
}

TEST_F(LoggingTest, AnUnknownSubsystemIsNamedAndTheKnownOnesStillApply) {
  logToFile();
  setenv("STRATA_DEBUG", "INFO", 1);
  setenv("STRATA_DEBUG_SUBSYS", "COLLS,init", 1);
  ::testing::internal::CaptureStderr();
  reloadLogConfig();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("unknown subsystem 'COLLS'"), std::string::npos) << err;
  EXPECT_NE(err.find("COLL, P2P"), std::string::npos) << err;  // the known names are listed
  EXPECT_EQ(err.find("'init'"), std::string::npos) << err;     // names match in any case
  STRATA_INFO(Subsys::kInit, "init-shown");
  STRATA_INFO(Subsys::kColl, "coll-hidden");
  const std::string text = contents();
  EXPECT_NE(text.find("init-shown"), std::string::npos) << text;
  EXPECT_EQ(text.find("coll-hidden"), std::string::npos) << text;
}

}  // namespace
}  // namespace strata
