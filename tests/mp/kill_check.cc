#include "kill_check.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "strata/strata.h"

namespace strata::mptest {

bool exitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

void expectAllSucceeded(const WorkerGroup& group) {
  std::string failures;
  for (int r = 0; r < group.size(); ++r) {
    if (!exitedWith(group.status(r), 0)) {
      failures += "rank " + std::to_string(r) + " " + describeWaitStatus(group.status(r)) + "\n";
    } else if (group.output(r).find("OK rank " + std::to_string(r)) == std::string::npos) {
      failures += "rank " + std::to_string(r) + " exited 0 without printing OK\n";
    }
  }
  EXPECT_TRUE(failures.empty()) << failures << "output:\n" << group.allOutput();
}

void waitExpectingSuccess(WorkerGroup& group, Clock::time_point deadline) {
  ASSERT_TRUE(group.waitAll(deadline)) << "ranks did not finish in time:\n" << group.allOutput();
  expectAllSucceeded(group);
}

void runExpectingSuccess(WorkerGroup& group, const std::vector<std::string>& args,
                         Clock::time_point deadline, const std::string& timeoutMs) {
  group.setEnv("STRATA_TIMEOUT_MS", timeoutMs);
  ASSERT_TRUE(group.startAll(args)) << group.error();
  waitExpectingSuccess(group, deadline);
}

void expectSurvivorsFailAfterKill(WorkerGroup& group, int victim, Clock::time_point deadline,
                                  milliseconds limit) {
  const int nranks = group.size();
  for (int r = 0; r < nranks; ++r) {
    ASSERT_TRUE(group.waitForOutput(r, "READY", deadline)) << "rank " << r << " never got ready:\n"
                                                           << group.allOutput();
  }
  group.pumpFor(milliseconds(300));
  group.hold(victim);
  const auto killedAt = Clock::now();
  group.kill(victim, SIGKILL);

  std::vector<int> survivors;
  for (int r = 0; r < nranks; ++r)
    if (r != victim) survivors.push_back(r);
  ASSERT_TRUE(group.waitAll(std::min(deadline, killedAt + seconds(30)), survivors, seconds(30)))
      << "survivors still running 30 s after rank " << victim << " was killed:\n"
      << group.allOutput();
  // What the survivors reported, for whoever reads the test log.
  std::printf("%s", group.allOutput().c_str());
  for (int r : survivors) {
    const int status = group.status(r);
    EXPECT_TRUE(exitedWith(status, 10 + strataRemoteError) ||
                exitedWith(status, 10 + strataTimeout))
        << "rank " << r << " " << describeWaitStatus(status)
        << ", expected exit code 16 (strataRemoteError) or 18 (strataTimeout)\n"
        << group.allOutput();
    const auto tookMs =
        std::chrono::duration_cast<milliseconds>(group.exitTime(r) - killedAt).count();
    std::printf("rank %d exited %lld ms after rank %d was killed\n", r,
                static_cast<long long>(tookMs), victim);
    EXPECT_LE(tookMs, limit.count()) << "rank " << r << " needed " << tookMs
                                     << " ms to fail after the kill\n"
                                     << group.allOutput();
  }
  group.release(victim);
  auto victimStatus = group.waitExit(victim, Clock::now() + seconds(10));
  ASSERT_TRUE(victimStatus.has_value());
  EXPECT_TRUE(WIFSIGNALED(*victimStatus) && WTERMSIG(*victimStatus) == SIGKILL)
      << describeWaitStatus(*victimStatus);
}

void expectKilledRankNamed(const char* worker, int nranks, int victim,
                           const std::vector<std::string>& args) {
  WorkerGroup group(worker, nranks, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", "60000");
  ASSERT_TRUE(group.startAll(args)) << group.error();
  expectSurvivorsFailAfterKill(group, victim, Clock::now() + seconds(100), milliseconds(10000));
  for (int r = 0; r < nranks; ++r) {
    if (r == victim) continue;
    EXPECT_TRUE(exitedWith(group.status(r), 10 + strataRemoteError)) << group.allOutput();
    EXPECT_NE(group.output(r).find("rank " + std::to_string(victim)), std::string::npos)
        << group.output(r);
  }
}

}  // namespace strata::mptest
