// Faults injected into ranks that are processes meeting through the real TCP bootstrap and
// transports: what the survivors return, how they name the lost rank, what is left behind.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "kill_check.h"
#include "worker_group.h"

namespace strata::mptest {
namespace {

constexpr const char* kWorker = STRATA_FAULT_WORKER;
constexpr seconds kTestBudget{60};

// The pid a worker printed as "CHILD <pid>", or -1.
pid_t childPid(const std::string& output) {
  auto at = output.find("CHILD ");
  return at == std::string::npos ? -1 : static_cast<pid_t>(std::stol(output.substr(at + 6)));
}

void expectSurvivorsName(const WorkerGroup& group, int lost);

// Every descriptor the library opens (bootstrap listener, accepted and client sockets, shared
// memory, the root's event loop) is close-on-exec, as /proc/self/fdinfo shows it.
TEST(Cloexec, EveryDescriptorOpenedByInitIsCloseOnExec) {
  WorkerGroup group(kWorker, 2, commIdFor(pickFreePort()), randomSecretHex());
  ASSERT_NO_FATAL_FAILURE(
      runExpectingSuccess(group, {"cloexec"}, Clock::now() + kTestBudget, "30000"));
  std::printf("%s", group.allOutput().c_str());
}

// Rank 0 hosts the bootstrap root, starts a child that execs and outlives it, and is SIGKILLed.
// The child holds none of rank 0's sockets, so rank 1, waiting in Finalize's barrier at the
// root, sees the connection close and returns strataRemoteError, not strataTimeout at its
// deadline.
TEST(Cloexec, PeerFailsAtOnceWhenAForkingRankIsKilled) {
  WorkerGroup group(kWorker, 2, commIdFor(pickFreePort()), randomSecretHex());
  constexpr milliseconds kTimeout{20000};
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kTimeout.count()));
  ASSERT_TRUE(group.startAll({"fork-exec", "0"})) << group.error();
  ASSERT_TRUE(group.waitForOutput(0, "READY", Clock::now() + kTestBudget)) << group.allOutput();
  const pid_t child = childPid(group.output(0));
  expectSurvivorsFailAfterKill(group, 0, Clock::now() + kTestBudget, kTimeout);
  if (child > 0) ::kill(child, SIGKILL);
  EXPECT_TRUE(exitedWith(group.status(1), 10 + 6 /* strataRemoteError */))
      << "rank 1 did not see rank 0's connections close:\n"
      << group.allOutput();
  expectSurvivorsName(group, 0);
}

// The line in which a worker reported its failed call ("rank R: KIND returned X: message").
std::string errorLine(const std::string& output) {
  auto at = output.find(" returned ");
  if (at == std::string::npos) return {};
  auto begin = output.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return output.substr(begin, output.find('\n', at) - begin);
}

// When rank r's failed call returned, as the worker printed it ("RETURNED_AT <steady ns>");
// its exit time if it printed none.
Clock::time_point returnTime(const WorkerGroup& group, int r) {
  const std::string& out = group.output(r);
  auto at = out.find("RETURNED_AT ");
  if (at == std::string::npos) return group.exitTime(r);
  return Clock::time_point(std::chrono::nanoseconds(std::stoll(out.substr(at + 12))));
}

// Once every rank is READY, sends `sig` to `victim` and expects every survivor to exit with
// strataRemoteError or strataTimeout within `limit`; the victim is SIGKILLed at the end.
void expectSurvivorsFailAfterSignal(WorkerGroup& group, int victim, int sig, milliseconds limit) {
  const auto deadline = Clock::now() + kTestBudget;
  for (int r = 0; r < group.size(); ++r)
    ASSERT_TRUE(group.waitForOutput(r, "READY", deadline)) << group.allOutput();
  group.pumpFor(milliseconds(300));
  group.hold(victim);
  const auto signalledAt = Clock::now();
  group.kill(victim, sig);
  std::vector<int> survivors;
  for (int r = 0; r < group.size(); ++r)
    if (r != victim) survivors.push_back(r);
  ASSERT_TRUE(group.waitAll(std::min(deadline, signalledAt + seconds(30)), survivors, seconds(30)))
      << group.allOutput();
  std::printf("%s", group.allOutput().c_str());
  for (int r : survivors) {
    EXPECT_TRUE(exitedWith(group.status(r), 10 + 6) || exitedWith(group.status(r), 10 + 8))
        << "rank " << r << " " << describeWaitStatus(group.status(r)) << "\n"
        << group.allOutput();
    const auto tookMs =
        std::chrono::duration_cast<milliseconds>(returnTime(group, r) - signalledAt).count();
    std::printf("rank %d returned %lld ms after the signal\n", r, static_cast<long long>(tookMs));
    EXPECT_LE(tookMs, limit.count()) << "rank " << r << " took " << tookMs << " ms\n"
                                     << group.allOutput();
  }
  group.release(victim);
  if (sig != SIGKILL) group.kill(victim, SIGKILL);
  EXPECT_TRUE(group.waitExit(victim, Clock::now() + seconds(10)).has_value());
}

// With 4 ranks and rank 2 SIGKILLed mid-AllReduce, every survivor names rank 2 as the rank that
// exited, including those that first see another survivor's abort notice.
TEST(Blame, SurvivorsNameTheKilledRankNotARankThatAborted) {
  constexpr milliseconds kTimeout{10000};
  WorkerGroup group(kWorker, 4, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kTimeout.count()));
  ASSERT_TRUE(group.startAll({"loop", "allreduce"})) << group.error();
  expectSurvivorsFailAfterKill(group, 2, Clock::now() + kTestBudget, kTimeout + seconds(2));
  for (int r : {0, 1, 3}) {
    const std::string line = errorLine(group.output(r));
    EXPECT_NE(line.find("rank 2 (pid"), std::string::npos) << "rank " << r << ": " << line;
    EXPECT_NE(line.find("exited"), std::string::npos) << "rank " << r << ": " << line;
  }
}

// With rank 2 SIGSTOPped, survivors time out or see a survivor's abort; each names rank 2 as
// stopped, the root cause, rather than the rank that aborted.
TEST(Blame, SurvivorsNameTheStoppedRank) {
  constexpr milliseconds kTimeout{2000};
  WorkerGroup group(kWorker, 4, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kTimeout.count()));
  ASSERT_TRUE(group.startAll({"loop", "allreduce"})) << group.error();
  expectSurvivorsFailAfterSignal(group, 2, SIGSTOP, kTimeout + seconds(2));
  for (int r : {0, 1, 3}) {
    const std::string line = errorLine(group.output(r));
    EXPECT_NE(line.find("rank 2 (pid"), std::string::npos) << "rank " << r << ": " << line;
    EXPECT_NE(line.find("stopped"), std::string::npos) << "rank " << r << ": " << line;
  }
}

// This host's shared-memory segments created by process `pid` ("/strata-<pid>-...").
std::vector<std::string> segmentsOf(pid_t pid) {
  std::vector<std::string> found;
  const std::string prefix = "strata-" + std::to_string(pid) + "-";
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d))
      if (std::string(e->d_name).rfind(prefix, 0) == 0) found.push_back(std::string("/") + e->d_name);
    closedir(d);
  }
  return found;
}

bool shmExists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm" + name).c_str(), &st) == 0;
}

// Rank 0 SIGKILLed while its segment is still named (rank 1 stopped between creating its own
// and the barrier after which every owner unlinks): the segment stays behind, and the next init
// on the host removes it. Setup is short, so the kill is retried until it lands inside it.
TEST(Leftovers, SegmentOfARankKilledDuringShmSetupIsSweptByTheNextInit) {
  std::vector<std::string> leftovers;
  int attempts = 0;
  for (; attempts < 20 && leftovers.empty(); ++attempts) {
    WorkerGroup group(kWorker, 4, commIdFor(pickFreePort()), randomSecretHex());
    group.setEnv("STRATA_TIMEOUT_MS", "5000");
    ASSERT_TRUE(group.startAll({"init"})) << group.error();
    const auto until = Clock::now() + seconds(20);
    while (Clock::now() < until && !group.exited(0) && !group.exited(1)) {
      if (!segmentsOf(group.pid(1)).empty()) {
        ::kill(group.pid(1), SIGSTOP);
        if (!segmentsOf(group.pid(0)).empty()) {
          ::kill(group.pid(0), SIGKILL);
          leftovers = segmentsOf(group.pid(0));
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    // Leaving the scope SIGKILLs the stopped rank 1 too, leaving its segment behind as well.
    for (auto& n : segmentsOf(group.pid(1))) leftovers.push_back(n);
  }
  ASSERT_FALSE(leftovers.empty()) << "no kill landed inside shared-memory setup in " << attempts
                                  << " attempts";
  std::printf("killed inside setup at attempt %d; left behind:", attempts);
  for (auto& n : leftovers) std::printf(" %s", n.c_str());
  std::printf("\n");

  WorkerGroup next(kWorker, 2, commIdFor(pickFreePort()), randomSecretHex());
  ASSERT_NO_FATAL_FAILURE(runExpectingSuccess(next, {"init"}, Clock::now() + kTestBudget, "30000"));
  for (auto& n : leftovers) EXPECT_FALSE(shmExists(n)) << n << " is still in /dev/shm";
}

// 4,200 idle connections that never say hello (more than the root's connection budget) do not
// keep a rank from joining: the oldest unauthenticated ones make room for newer ones.
TEST(Bootstrap, IdleUnauthenticatedConnectionsDoNotLockRanksOut) {
  constexpr int kIdle = 4200;
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < kIdle + 256) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, kIdle + 1024);
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur < kIdle + 256) GTEST_SKIP() << "the descriptor limit is too low for the flood";
  const int port = pickFreePort();
  WorkerGroup group(kWorker, 2, commIdFor(port), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", "30000");
  ASSERT_TRUE(group.start(0, {"init"})) << group.error();
  std::vector<int> idle;
  const auto until = Clock::now() + seconds(20);
  while (idle.empty() && Clock::now() < until && !group.exited(0)) {
    if (int fd = connectToLocalPort(port); fd >= 0) idle.push_back(fd);
    else group.pumpFor(milliseconds(10));
  }
  ASSERT_FALSE(idle.empty()) << "rank 0 never listened:\n" << group.allOutput();
  while (static_cast<int>(idle.size()) < kIdle) {
    int fd = connectToLocalPort(port);
    ASSERT_GE(fd, 0) << "connection " << idle.size() << ": " << std::strerror(errno);
    idle.push_back(fd);
  }
  ASSERT_TRUE(group.start(1, {"init"})) << group.error();
  const bool finished = group.waitAll(Clock::now() + kTestBudget);
  for (int fd : idle) ::close(fd);
  ASSERT_TRUE(finished) << group.allOutput();
  expectAllSucceeded(group);
}

// Every survivor's report names the lost rank.
void expectSurvivorsName(const WorkerGroup& group, int lost) {
  const std::string name = "rank " + std::to_string(lost);
  for (int r = 0; r < group.size(); ++r) {
    if (r == lost) continue;
    const std::string line = errorLine(group.output(r));
    EXPECT_NE(line.find(name), std::string::npos)
        << "rank " << r << " does not name " << name << ": " << line << "\n"
        << group.allOutput();
  }
}

constexpr milliseconds kFaultTimeout{3000};
constexpr milliseconds kFaultMargin{2000};

// SIGKILL of rank 1 of 3 in the middle of each collective kind, over shared memory.
class KilledMidCollective : public ::testing::TestWithParam<const char*> {};

TEST_P(KilledMidCollective, SurvivorsFailWithinTheTimeoutNamingTheLostRank) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kFaultTimeout.count()));
  ASSERT_TRUE(group.startAll({"loop", GetParam()})) << group.error();
  expectSurvivorsFailAfterKill(group, 1, Clock::now() + kTestBudget, kFaultTimeout + kFaultMargin);
  expectSurvivorsName(group, 1);
}

INSTANTIATE_TEST_SUITE_P(Shm, KilledMidCollective,
                         ::testing::Values("allreduce", "broadcast", "reduce", "allgather",
                                           "allgatherv", "reducescatter", "alltoall", "alltoallv",
                                           "sendrecv", "barrier"),
                         [](const auto& info) { return std::string(info.param); });

// SIGSTOP of rank 1 of 3 in the middle of each collective kind: the survivors time out (or see
// a survivor's abort) and name rank 1 as stopped.
class StoppedMidCollective : public ::testing::TestWithParam<const char*> {};

TEST_P(StoppedMidCollective, SurvivorsFailWithinTheTimeoutNamingTheStoppedRank) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kFaultTimeout.count()));
  ASSERT_TRUE(group.startAll({"loop", GetParam()})) << group.error();
  expectSurvivorsFailAfterSignal(group, 1, SIGSTOP, kFaultTimeout + kFaultMargin);
  for (int r : {0, 2}) {
    const std::string line = errorLine(group.output(r));
    EXPECT_NE(line.find("rank 1 (pid"), std::string::npos) << "rank " << r << ": " << line;
    EXPECT_NE(line.find("stopped"), std::string::npos) << "rank " << r << ": " << line;
  }
}

INSTANTIATE_TEST_SUITE_P(Shm, StoppedMidCollective,
                         ::testing::Values("broadcast", "reduce", "allgather", "allgatherv",
                                           "reducescatter", "alltoall", "alltoallv", "sendrecv",
                                           "barrier"),
                         [](const auto& info) { return std::string(info.param); });

// A network transport ("ucx" or "ofi") over TCP on loopback, for ranks on fake hosts (the recipe
// of tests/netns).
void useLoopbackNetwork(WorkerGroup& group, const std::string& transport) {
  group.setEnv("STRATA_TRANSPORT", transport);
  group.setEnv("UCX_TLS", "tcp");
  group.setEnv("UCX_NET_DEVICES", "lo");
  group.setEnv("FI_PROVIDER", "tcp");
  group.setEnv("FI_TCP_IFACE", "lo");
}

// The network transports between two fake hosts of two ranks each on loopback (the recipe of
// tests/netns): rank 2 SIGKILLed mid-AllReduce; every survivor, on its host or the other,
// names it.
class KilledOverNetwork : public ::testing::TestWithParam<const char*> {};

TEST_P(KilledOverNetwork, SurvivorsNameTheLostRank) {
  const std::string transport = GetParam();
  WorkerGroup group(kWorker, 4, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", "10000");
  useLoopbackNetwork(group, transport);
  for (int r = 0; r < 4; ++r) {
    group.setEnv("STRATA_HOSTID", "fault-host-" + std::to_string(r / 2));
    ASSERT_TRUE(group.start(r, {"loop", "allreduce"})) << group.error();
  }
  expectSurvivorsFailAfterKill(group, 2, Clock::now() + kTestBudget, seconds(12));
  expectSurvivorsName(group, 2);
}

std::vector<const char*> networkTransports() {
  std::vector<const char*> t;
#ifdef STRATA_FAULT_HAVE_UCX
  t.push_back("ucx");
#endif
#ifdef STRATA_FAULT_HAVE_OFI
  t.push_back("ofi");
#endif
  return t;
}

INSTANTIATE_TEST_SUITE_P(Loopback, KilledOverNetwork, ::testing::ValuesIn(networkTransports()),
                         [](const auto& info) { return std::string(info.param); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(KilledOverNetwork);

// STRATA_CHECK=1 with ranks as processes on shm and on every network transport: the last rank
// calls an AllReduce of another count; every rank refuses it naming itself and a rank that
// called otherwise, and the communicator goes on.
class FullCheckMismatch : public ::testing::TestWithParam<const char*> {};

TEST_P(FullCheckMismatch, EveryRankRefusesNamingBothCalls) {
  const std::string transport = GetParam();
  WorkerGroup group(kWorker, 4, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", "20000");
  group.setEnv("STRATA_CHECK", "1");
  if (transport != "shm") useLoopbackNetwork(group, transport);
  for (int r = 0; r < 4; ++r) {
    if (transport != "shm") group.setEnv("STRATA_HOSTID", "check-host-" + std::to_string(r / 2));
    ASSERT_TRUE(group.start(r, {"mismatch"})) << group.error();
  }
  ASSERT_TRUE(group.waitAll(Clock::now() + kTestBudget)) << group.allOutput();
  std::printf("%s", group.allOutput().c_str());
  expectAllSucceeded(group);
  const std::string full = "AllReduce(count 1024, float, sum) #1";
  const std::string half = "AllReduce(count 512, float, sum) #1";
  for (int r = 0; r < 4; ++r) {
    const std::string expected = r == 3 ? "rank 3 called " + half + " but rank 0 called " + full
                                        : "rank " + std::to_string(r) + " called " + full +
                                              " but rank 3 called " + half;
    EXPECT_NE(group.output(r).find(expected), std::string::npos)
        << "rank " << r << ":\n" << group.allOutput();
  }
}

std::vector<const char*> everyTransport() {
  std::vector<const char*> t = {"shm"};
  for (const char* n : networkTransports()) t.push_back(n);
  return t;
}

INSTANTIATE_TEST_SUITE_P(Transports, FullCheckMismatch, ::testing::ValuesIn(everyTransport()),
                         [](const auto& info) { return std::string(info.param); });

// strataCommShrink after a loss: one of 4 ranks is SIGKILLed mid-AllReduce; the survivors get
// strataRemoteError, shrink with STRATA_SHRINK_ABORT to 3 ranks over a fresh bootstrap and run
// correct AllReduces on it. Rank 0 hosts the old bootstrap root, so losing it shows the new
// communicator needs nothing of the old one.
class ShrinkAfterKill : public ::testing::TestWithParam<int> {};

TEST_P(ShrinkAfterKill, SurvivorsShrinkAndGoOn) {
  const int victim = GetParam();
  WorkerGroup group(kWorker, 4, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", "10000");
  ASSERT_TRUE(group.startAll({"shrink", std::to_string(victim)})) << group.error();
  for (int r = 0; r < 4; ++r)
    ASSERT_TRUE(group.waitForOutput(r, "READY", Clock::now() + kTestBudget)) << group.allOutput();
  group.pumpFor(milliseconds(200));
  group.kill(victim, SIGKILL);
  std::vector<int> survivors;
  for (int r = 0; r < 4; ++r)
    if (r != victim) survivors.push_back(r);
  ASSERT_TRUE(group.waitAll(Clock::now() + kTestBudget, survivors)) << group.allOutput();
  std::printf("%s", group.allOutput().c_str());
  for (int r : survivors) {
    EXPECT_TRUE(exitedWith(group.status(r), 0))
        << "rank " << r << " " << describeWaitStatus(group.status(r)) << "\n"
        << group.allOutput();
    const int newRank = r < victim ? r : r - 1;
    EXPECT_NE(group.output(r).find("SHRUNK rank " + std::to_string(r) + " -> " +
                                   std::to_string(newRank) + " of 3"),
              std::string::npos)
        << group.allOutput();
    EXPECT_NE(group.output(r).find("OK rank " + std::to_string(r)), std::string::npos)
        << group.allOutput();
  }
}

INSTANTIATE_TEST_SUITE_P(Shm, ShrinkAfterKill, ::testing::Values(0, 2),
                         [](const auto& info) { return "rank" + std::to_string(info.param); });

// Starts ranks 0 (logging its bootstrap root) and 2 of `group`'s 3 and waits until the root,
// which rank 0 hosts, has seen rank 2 join; rank 1 is not started.
void startRanksZeroAndTwo(WorkerGroup& group) {
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kFaultTimeout.count()));
  group.setEnv("STRATA_DEBUG", "INFO");
  group.setEnv("STRATA_DEBUG_SUBSYS", "BOOTSTRAP");
  ASSERT_TRUE(group.start(0, {"loop", "allreduce"})) << group.error();
  group.setEnv("STRATA_DEBUG", "");
  ASSERT_TRUE(group.start(2, {"loop", "allreduce"})) << group.error();
  ASSERT_TRUE(group.waitForOutput(0, "rank 2 of 3 joined", Clock::now() + kTestBudget))
      << group.allOutput();
}

// SIGKILL of rank 2 after it joined the bootstrap, while rank 0 waits in init for the others
// (rank 1 never starts): rank 0 fails init naming rank 2, not with a timeout about rank 1.
TEST(Init, RankKilledDuringInitIsNamedByTheOthers) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  startRanksZeroAndTwo(group);
  if (::testing::Test::HasFatalFailure()) return;
  group.hold(2);
  const auto killedAt = Clock::now();
  group.kill(2, SIGKILL);
  ASSERT_TRUE(group.waitAll(Clock::now() + seconds(30), {0})) << group.allOutput();
  std::printf("%s", group.allOutput().c_str());
  EXPECT_TRUE(exitedWith(group.status(0), 10 + 6))
      << describeWaitStatus(group.status(0)) << "\n"
      << group.allOutput();
  EXPECT_LE(returnTime(group, 0) - killedAt, kFaultTimeout + kFaultMargin) << group.allOutput();
  const std::string line = errorLine(group.output(0));
  EXPECT_NE(line.find("rank 2"), std::string::npos) << line;
  group.release(2);
}

// SIGSTOP of rank 2 once it has joined the bootstrap, before rank 1 starts: ranks 0 and 1 wait
// in init for a rank that neither exits nor answers, and time out naming it.
TEST(Init, RankStoppedDuringInitIsNamedByTheOthers) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  startRanksZeroAndTwo(group);
  if (::testing::Test::HasFatalFailure()) return;
  group.hold(2);
  const auto stoppedAt = Clock::now();
  group.kill(2, SIGSTOP);
  ASSERT_TRUE(group.start(1, {"loop", "allreduce"})) << group.error();
  ASSERT_TRUE(group.waitAll(Clock::now() + seconds(30), {0, 1})) << group.allOutput();
  std::printf("%s", group.allOutput().c_str());
  for (int r : {0, 1}) {
    EXPECT_TRUE(exitedWith(group.status(r), 10 + 6) || exitedWith(group.status(r), 10 + 8))
        << "rank " << r << " " << describeWaitStatus(group.status(r)) << "\n"
        << group.allOutput();
    EXPECT_LE(returnTime(group, r) - stoppedAt, kFaultTimeout + kFaultMargin)
        << "rank " << r << "\n" << group.allOutput();
  }
  expectSurvivorsName(group, 2);
  group.release(2);
  group.kill(2, SIGKILL);
  EXPECT_TRUE(group.waitExit(2, Clock::now() + seconds(10)).has_value());
}

// SIGKILL of rank 1 while ranks 0 and 2 wait for it in Finalize.
TEST(Finalize, RankKilledWhileOthersFinalizeIsNamed) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kFaultTimeout.count()));
  ASSERT_TRUE(group.startAll({"finalize-wait", "1"})) << group.error();
  expectSurvivorsFailAfterKill(group, 1, Clock::now() + kTestBudget, kFaultTimeout + kFaultMargin);
  expectSurvivorsName(group, 1);
}

// SIGKILL of rank 1 while ranks 0 and 2 are in strataCommDestroy, waiting for an AllReduce
// queued on a stream that needs rank 1: Destroy returns once the queued call fails, and that
// call's error names the lost rank.
TEST(Destroy, RankKilledWhileOthersDestroyWithAQueuedCallIsNamed) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kFaultTimeout.count()));
  ASSERT_TRUE(group.startAll({"destroy-queued", "1"})) << group.error();
  expectSurvivorsFailAfterKill(group, 1, Clock::now() + kTestBudget, kFaultTimeout + kFaultMargin);
  expectSurvivorsName(group, 1);
  for (int r : {0, 2})
    EXPECT_NE(group.output(r).find("CommDestroy returned strataSuccess"), std::string::npos)
        << group.allOutput();
}

// SIGSTOP of rank 1 while ranks 0 and 2 wait for it in Finalize: they time out naming it.
TEST(Finalize, RankStoppedWhileOthersFinalizeIsNamed) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kFaultTimeout.count()));
  ASSERT_TRUE(group.startAll({"finalize-wait", "1"})) << group.error();
  expectSurvivorsFailAfterSignal(group, 1, SIGSTOP, kFaultTimeout + kFaultMargin);
  expectSurvivorsName(group, 1);
}

// SIGSTOP of rank 1 while ranks 0 and 2 destroy with an AllReduce queued that needs it: the
// queued call times out naming rank 1, and Destroy returns.
TEST(Destroy, RankStoppedWhileOthersDestroyWithAQueuedCallIsNamed) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kFaultTimeout.count()));
  ASSERT_TRUE(group.startAll({"destroy-queued", "1"})) << group.error();
  expectSurvivorsFailAfterSignal(group, 1, SIGSTOP, kFaultTimeout + kFaultMargin);
  expectSurvivorsName(group, 1);
  for (int r : {0, 2})
    EXPECT_NE(group.output(r).find("CommDestroy returned strataSuccess"), std::string::npos)
        << group.allOutput();
}

// strataCommAbort from another thread ends an AllReduce that would otherwise wait for its whole
// (long) deadline; the bound only keeps a broken abort from hanging the suite.
TEST(Abort, AbortFromAnotherThreadUnblocksAStuckCall) {
  WorkerGroup group(kWorker, 2, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", "600000");
  ASSERT_TRUE(group.startAll({"abort-thread"})) << group.error();
  ASSERT_TRUE(group.waitAll(Clock::now() + kTestBudget, {0})) << group.allOutput();
  std::printf("%s", group.allOutput().c_str());
  EXPECT_TRUE(exitedWith(group.status(0), 10 + 6)) << describeWaitStatus(group.status(0)) << "\n"
                                                   << group.allOutput();
  EXPECT_NE(group.output(0).find("returned strataRemoteError after the abort"), std::string::npos)
      << group.allOutput();
}

// Communicators destroyed or aborted leave no shared-memory segment and leak no descriptor.
TEST(Leaks, DestroyAndAbortLeaveNoSegmentAndNoDescriptor) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  runExpectingSuccess(group, {"cycles"}, Clock::now() + kTestBudget, "30000");
}

}  // namespace
}  // namespace strata::mptest
