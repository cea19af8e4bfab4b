// Ranks as processes through the real TCP bootstrap and transports: correctness, a rank killed
// mid-collective, an intruder at the bootstrap root, and argument checks.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/tcp_wire.h"
#include "bootstrap/unique_id.h"
#include "kill_check.h"
#include "worker_group.h"

namespace strata::mptest {
namespace {

constexpr const char* kWorker = STRATA_MP_WORKER;
// Every test ends (killing its workers if need be) well inside ctest's 120 s limit.
constexpr seconds kTestBudget{100};
// The library's deadline for normal runs: a hang fails with a message before the budget ends.
constexpr const char* kNormalTimeoutMs = "60000";

class AllCollectives : public ::testing::TestWithParam<int> {};

TEST_P(AllCollectives, EveryCollectiveGivesExactResults) {
  const int nranks = GetParam();
  WorkerGroup group(kWorker, nranks, commIdFor(pickFreePort()), randomSecretHex());
  runExpectingSuccess(group, {"all"}, Clock::now() + kTestBudget);
}

INSTANTIATE_TEST_SUITE_P(Ranks, AllCollectives, ::testing::Values(2, 3, 4),
                         [](const auto& info) { return "np" + std::to_string(info.param); });

class RankKilled : public ::testing::TestWithParam<int> {};

// A peer SIGKILLed mid-AllReduce must turn into strataRemoteError or strataTimeout on every
// survivor within the timeout plus a margin. The dead rank stays a zombie until the survivors are
// done, so liveness checks cannot rely on the pid having vanished.
TEST_P(RankKilled, SurvivorsReturnAnErrorWithinTheTimeout) {
  const int nranks = GetParam();
  const int victim = 1;
  constexpr milliseconds kTimeout{3000};
  constexpr milliseconds kMargin{2000};
  WorkerGroup group(kWorker, nranks, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kTimeout.count()));
  ASSERT_TRUE(group.startAll({"allreduce-loop"})) << group.error();
  expectSurvivorsFailAfterKill(group, victim, Clock::now() + kTestBudget, kTimeout + kMargin);
}

INSTANTIATE_TEST_SUITE_P(Ranks, RankKilled, ::testing::Values(2, 3),
                         [](const auto& info) { return "np" + std::to_string(info.param); });

// Buffers in registered windows between processes: the direct algorithms, exact results,
// peers' memory mapped and unmapped, no descriptor left open.
TEST(Windows, DirectCollectivesBetweenProcesses) {
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  runExpectingSuccess(group, {"windows"}, Clock::now() + kTestBudget);
}

// A rank SIGKILLed while its peers map its window and read it directly: the survivors return an
// error naming it (no SIGBUS: the memory is sealed against shrinking).
TEST(Windows, RankKilledMidDirectCall) {
  constexpr milliseconds kTimeout{3000};
  WorkerGroup group(kWorker, 3, commIdFor(pickFreePort()), randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kTimeout.count()));
  ASSERT_TRUE(group.startAll({"windows-loop"})) << group.error();
  expectSurvivorsFailAfterKill(group, 1, Clock::now() + kTestBudget, kTimeout + milliseconds(2000));
  for (int r : {0, 2}) {
    EXPECT_NE(group.output(r).find("strataRemoteError"), std::string::npos) << group.output(r);
    EXPECT_NE(group.output(r).find("rank 1"), std::string::npos) << group.output(r);
  }
}

// Connects to 127.0.0.1:port, retrying while nobody listens yet. -1 at the deadline or once
// `alive` says the listener's process is gone.
template <typename Alive>
int connectWhenListening(int port, Clock::time_point deadline, Alive alive) {
  while (Clock::now() < deadline && alive()) {
    if (int fd = connectToLocalPort(port); fd >= 0) return fd;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return -1;
}

std::array<uint8_t, 16> secretFromHex(const std::string& hex) {
  std::array<uint8_t, 16> bytes{};
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return bytes;
}

// Someone who knows the root's address but not the secret is disconnected without joining,
// and the real ranks are not disturbed. Rank 1 starts only after the intruder was turned away,
// so the intruder always reaches a root that is still waiting for ranks.
TEST(Bootstrap, HelloWithWrongSecretIsRejected) {
  const int port = pickFreePort();
  const std::string secret = randomSecretHex();
  WorkerGroup group(kWorker, 2, commIdFor(port), secret);
  group.setEnv("STRATA_TIMEOUT_MS", kNormalTimeoutMs);
  ASSERT_TRUE(group.start(0, {"all"})) << group.error();
  const auto deadline = Clock::now() + kTestBudget;

  int fd = connectWhenListening(port, std::min(deadline, Clock::now() + seconds(30)), [&] {
    group.pumpFor(milliseconds(1));
    return !group.exited(0);
  });
  ASSERT_GE(fd, 0) << "rank 0 never listened on port " << port << ":\n" << group.allOutput();

  std::array<uint8_t, 16> wrong = secretFromHex(secret);
  for (auto& b : wrong) b ^= 0x5a;
  auto id = uniqueIdFromAddress(commIdFor(port), wrong);
  ASSERT_TRUE(id.isOk()) << id.status().message();
  const std::string hello = encodeHelloFrame(id.value(), 1, 2);
  ASSERT_EQ(::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(hello.size()));

  // The root must close the connection: EOF, or a reset if it closed with bytes unread.
  std::string received;
  bool closed = false;
  const auto readDeadline = Clock::now() + seconds(20);
  while (!closed && Clock::now() < readDeadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      received.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno == ECONNRESET) {
      closed = true;
    } else if (errno != EINTR && errno != EAGAIN) {
      ADD_FAILURE() << "recv: " << std::strerror(errno);
      break;
    }
  }
  ::close(fd);
  EXPECT_TRUE(closed) << "the root kept a connection with a wrong secret open";
  if (received.size() >= kFrameHeaderBytes) {
    auto header = parseFrameHeader(reinterpret_cast<const uint8_t*>(received.data()));
    EXPECT_FALSE(header.isOk() && header.value().type == FrameType::kWelcome)
        << "the root welcomed a hello with a wrong secret";
  }

  ASSERT_TRUE(group.start(1, {"all"})) << group.error();
  ASSERT_NO_FATAL_FAILURE(waitExpectingSuccess(group, deadline));
  std::printf("%s", group.allOutput().c_str());
}

TEST(Api, InvalidArgumentsAreRejectedWithMessages) {
  WorkerGroup group(kWorker, 2, commIdFor(pickFreePort()), randomSecretHex());
  runExpectingSuccess(group, {"invalid-args"}, Clock::now() + kTestBudget);
  // The messages themselves, for whoever reads the test log.
  std::printf("%s", group.allOutput().c_str());
}

}  // namespace
}  // namespace strata::mptest
