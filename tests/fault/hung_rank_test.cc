// Finding a hung rank: SIGUSR1 to a rank blocked in a collective prints what it waits for,
// naming the rank that did not join; the job is then torn down by that rank's abort.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "kill_check.h"
#include "strata/strata.h"
#include "worker_group.h"

namespace strata::mptest {
namespace {

constexpr const char* kWorker = STRATA_HUNG_WORKER;
constexpr const char* kStrataInfo = STRATA_INFO_BIN;
constexpr seconds kTestBudget{60};

// What a shell command printed.
std::string runCommand(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

// Three ranks; rank 2 skips the second AllReduce. SIGUSR1 to rank 0, repeated until it answers
// (it may not be waiting yet), prints the pending AllReduce and names rank 2 as the one it waits
// on, and once rank 1's bytes have landed, only rank 2; the application's own SIGUSR1 handler
// still runs. Rank 2, idle, answers with its last completed op. Rank 2's abort then ends the job.
TEST(HungRank, Sigusr1NamesThePendingCallAndTheRankThatDidNotJoin) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", "60000");
  ASSERT_TRUE(group.startAll({"skip", "2"})) << group.error();
  const auto deadline = Clock::now() + kTestBudget;
  for (int r = 0; r < 3; ++r)
    ASSERT_TRUE(group.waitForOutput(r, "READY", deadline)) << group.allOutput();
  // A report's lines come in one write, from its "last completed" line to its "op #2 is" line.
  // The first may come before rank 1's bytes have landed, so reports are asked for until one
  // shows the settled state; a report that keeps naming rank 1 fails at the deadline.
  const std::string first = "rank 0 of 3: last completed op #";
  const std::string last = "rank 0 of 3: op #2 is ";
  std::string report;
  while (Clock::now() < deadline) {
    group.kill(0, SIGUSR1);
    group.pumpFor(milliseconds(200));
    const std::string& out = group.output(0);
    const size_t begin = out.rfind(first);
    if (begin == std::string::npos || out.find(last, begin) == std::string::npos) continue;
    report = out.substr(begin);
    if (report.find("waiting on rank 1 ") == std::string::npos) break;
  }
  ASSERT_FALSE(report.empty()) << group.allOutput();
  EXPECT_NE(report.find("rank 0 of 3: last completed op #1, pending op #2: AllReduce "
                        "(algorithm "),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("rank 0 of 3: op #2 AllReduce waiting on rank 2 for "),
            std::string::npos)
      << report;
  EXPECT_EQ(report.find("waiting on rank 1 "), std::string::npos)
      << "blames a rank that joined:\n"
      << group.allOutput();

  // Rank 2 runs no call: its idle communicator answers too, with its last completed op.
  const std::string idle = "strata status: rank 2 of 3: last completed op #1, none pending";
  while (Clock::now() < deadline && group.output(2).find(idle) == std::string::npos) {
    group.kill(2, SIGUSR1);
    group.pumpFor(milliseconds(200));
  }
  EXPECT_NE(group.output(2).find(idle), std::string::npos) << group.allOutput();
  // Every report is also appended to the process's status file (what strata-info status reads).
  for (int r : {0, 2}) {
    const std::string path = "/tmp/strata-status-" + std::to_string(group.pid(r));
    std::ifstream in(path);
    const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(file.find(r == 0 ? last : idle), std::string::npos) << path << ":\n" << file;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
    std::remove(path.c_str());
  }

  group.kill(2, SIGTERM);
  ASSERT_TRUE(group.waitAll(deadline)) << group.allOutput();
  EXPECT_TRUE(exitedWith(group.status(2), 0)) << group.allOutput();
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(exitedWith(group.status(r), 10 + strataRemoteError))
        << "rank " << r << " " << describeWaitStatus(group.status(r)) << "\n"
        << group.allOutput();
  }
  EXPECT_EQ(group.output(0).find("APP_SIGUSR1 0\n"), std::string::npos)
      << "the application's SIGUSR1 handler was not chained:\n"
      << group.allOutput();
  std::printf("%s", group.allOutput().c_str());
}

// strata-info status PID prints what every communicator of the process is doing: the idle rank
// of a job whose rank 0 skipped a call names its last completed op; a process that does not
// catch SIGUSR1 is refused, not signalled (SIGUSR1 would end it).
TEST(HungRank, StrataInfoStatusPrintsTheReportAndSparesOtherProcesses) {
  WorkerGroup group(kWorker, 2, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", "60000");
  ASSERT_TRUE(group.startAll({"skip", "0"})) << group.error();
  const auto deadline = Clock::now() + kTestBudget;
  for (int r = 0; r < 2; ++r)
    ASSERT_TRUE(group.waitForOutput(r, "READY", deadline)) << group.allOutput();
  const std::string info = std::string(kStrataInfo) + " status ";
  std::string out = runCommand(info + std::to_string(group.pid(0)) + " 2>&1");
  EXPECT_NE(out.find("strata status: rank 0 of 2: last completed op #1, none pending"),
            std::string::npos)
      << out;
  // Rank 1 waits in the AllReduce rank 0 skipped, and names rank 0.
  std::string waiting;
  while (Clock::now() < deadline) {
    waiting = runCommand(info + std::to_string(group.pid(1)) + " 2>&1");
    if (waiting.find("waiting on rank 0 for") != std::string::npos) break;
  }
  EXPECT_NE(waiting.find("strata status: rank 1 of 2: op #2 AllReduce waiting on rank 0 for"),
            std::string::npos)
      << waiting;
  // Not a Strata process: refused with a reason, and left running.
  const pid_t sleeper = ::fork();
  ASSERT_GE(sleeper, 0);
  if (sleeper == 0) {
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(milliseconds(100));
  const std::string refused = runCommand(info + std::to_string(sleeper) + " 2>&1; echo rc=$?");
  EXPECT_NE(refused.find("does not catch SIGUSR1"), std::string::npos) << refused;
  EXPECT_NE(refused.find("rc=1"), std::string::npos) << refused;
  EXPECT_EQ(::kill(sleeper, 0), 0) << "strata-info signalled a process that does not catch SIGUSR1";
  ::kill(sleeper, SIGKILL);
  ::waitpid(sleeper, nullptr, 0);
  const std::string none = runCommand(info + "999999999 2>&1; echo rc=$?");
  EXPECT_NE(none.find("no such process"), std::string::npos) << none;

  group.kill(0, SIGTERM);
  ASSERT_TRUE(group.waitAll(deadline)) << group.allOutput();
}

// STRATA_SIGUSR1=0 leaves the application's SIGUSR1 handler in place; by default Strata's
// handler is installed (and chains to the application's).
TEST(HungRank, Sigusr1OptOutKeepsTheApplicationsHandler) {
  for (const char* optOut : {"0", "1"}) {
    WorkerGroup group(kWorker, 1, commIdFor(pickFreePort()), randomSecretHex());
    group.setEnv("STRATA_SIGUSR1", optOut);
    ASSERT_TRUE(group.startAll({"handler"})) << group.error();
    ASSERT_TRUE(group.waitAll(Clock::now() + kTestBudget)) << group.allOutput();
    EXPECT_TRUE(exitedWith(group.status(0), 0)) << group.allOutput();
    const std::string want = std::string("HANDLER ") + (optOut[0] == '0' ? "app" : "strata");
    EXPECT_NE(group.output(0).find(want), std::string::npos)
        << "STRATA_SIGUSR1=" << optOut << ":\n"
        << group.allOutput();
  }
}

}  // namespace
}  // namespace strata::mptest
