#include "bootstrap/tcp_bootstrap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/tcp_root.h"
#include "bootstrap/tcp_wire.h"
#include "bootstrap/unique_id.h"
#include "base/logging.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

// Sets (or unsets, with nullptr) one environment variable for the lifetime of the guard.
class EnvGuard {
 public:
  EnvGuard(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) saved_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~EnvGuard() {
    if (saved_)
      setenv(name_.c_str(), saved_->c_str(), 1);
    else
      unsetenv(name_.c_str());
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::string name_;
  std::optional<std::string> saved_;
};

void runRanks(int nranks, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int r = 0; r < nranks; ++r) threads.emplace_back(body, r);
  for (auto& t : threads) t.join();
}

BootstrapOptions timeoutOf(long ms, const AbortFlag* abort = nullptr) {
  BootstrapOptions o;
  o.timeoutMs = ms;
  o.abort = abort;
  return o;
}

// A port on 127.0.0.1 that nobody listened on a moment ago.
uint16_t freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

// A plain socket speaking to a root byte by byte: the intruder, or a rank that dies.
class RawClient {
 public:
  explicit RawClient(const SockAddr& root) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    std::memcpy(&sa.sin_addr, root.addr.data(), 4);
    sa.sin_port = htons(root.port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  ~RawClient() { closeNow(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  void sendBytes(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  std::string localAddress() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    return sockAddrFromNative(&ss).toString();
  }
  // Reads into received() until the peer closes (true) or timeoutMs passes (false).
  bool waitClosed(int timeoutMs) { return readUntil([] { return false; }, timeoutMs); }
  bool readAtLeast(size_t n, int timeoutMs) {
    readUntil([&] { return received_.size() >= n; }, timeoutMs);
    return received_.size() >= n;
  }
  const std::string& received() const { return received_; }
  void closeNow() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  bool readUntil(const std::function<bool()>& enough, int timeoutMs) {
    auto until = Clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!enough() && Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return true;
      received_.append(buf, static_cast<size_t>(n));
    }
    return false;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

// Every test runs on loopback with no launcher address in the way.
class TcpBootstrapTest : public ::testing::Test {
 protected:
  SockAddr rootOf(const strataUniqueId& id) { return decodeUniqueId(id).value().root; }

  EnvGuard ifname_{"STRATA_SOCKET_IFNAME", "lo"};
  EnvGuard commId_{"STRATA_COMM_ID", nullptr};
  EnvGuard secret_{"STRATA_COMM_SECRET", nullptr};
};

std::string blobFor(int rank, int round) {
  size_t size = static_cast<size_t>((rank * 7919 + round * 104729) % 150000);
  if ((rank + round) % 3 == 0) size = 0;
  std::string s(size, static_cast<char>('a' + (rank + round) % 26));
  return s + "/" + std::to_string(rank) + "/" + std::to_string(round);
}

TEST(TcpUniqueId, EncodesAndDecodes) {
  UniqueIdFields f;
  f.version = kUniqueIdVersion;
  f.rankZeroHosts = true;
  f.root.addr = {10, 1, 2, 3};
  f.root.port = 4242;
  f.secret = randomSecret();
  auto back = decodeUniqueId(encodeUniqueId(f));
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_TRUE(back->rankZeroHosts);
  EXPECT_EQ(back->root.toString(), "10.1.2.3:4242");
  EXPECT_EQ(back->secret, f.secret);
  EXPECT_NE(randomSecret(), randomSecret());
}

TEST(TcpUniqueId, RejectsForeignBytes) {
  strataUniqueId id;
  std::memset(&id, 0, sizeof(id));
  Status s = decodeUniqueId(id).status();
  EXPECT_EQ(s.code(), strataInvalidArgument);
  EXPECT_EQ(s.message(), "strataUniqueId is not a Strata id (bad magic)");
  EXPECT_EQ(connectTcpBootstrap(id, 0, 1, timeoutOf(100)).status().code(), strataInvalidArgument);
}

TEST(TcpUniqueId, BuildsFromAddressForms) {
  BootstrapSecret secret = randomSecret();
  auto v4 = uniqueIdFromAddress("127.0.0.1:5555", secret);
  ASSERT_TRUE(v4.isOk());
  auto f = decodeUniqueId(v4.value()).value();
  EXPECT_TRUE(f.rankZeroHosts);
  EXPECT_EQ(f.root.toString(), "127.0.0.1:5555");
  EXPECT_EQ(f.secret, secret);
  // The same inputs give the same id on every rank.
  auto again = uniqueIdFromAddress("127.0.0.1:5555", secret);
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(std::memcmp(&v4.value(), &again.value(), sizeof(strataUniqueId)), 0);
  auto v6 = uniqueIdFromAddress("[::1]:7000", secret);
  ASSERT_TRUE(v6.isOk()) << v6.status().message();
  EXPECT_EQ(decodeUniqueId(v6.value())->root.toString(), "[::1]:7000");
  auto named = uniqueIdFromAddress("localhost:6000", secret);
  ASSERT_TRUE(named.isOk()) << named.status().message();
  EXPECT_EQ(decodeUniqueId(named.value())->root.port, 6000);
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":80", "::1:80",
                          "[::1]80", "host:12ab"})
    EXPECT_EQ(uniqueIdFromAddress(bad, secret).status().code(), strataInvalidArgument) << bad;
}

TEST_F(TcpBootstrapTest, CommIdEnvironmentGivesTheSameIdEverywhere) {
  EnvGuard id("STRATA_COMM_ID", "127.0.0.1:45678");
  EnvGuard job("STRATA_JOB_ID", "job-42");
  auto a = createUniqueId();
  auto b = createUniqueId();
  ASSERT_TRUE(a.isOk()) << a.status().message();
  ASSERT_TRUE(b.isOk());
  EXPECT_EQ(std::memcmp(&a.value(), &b.value(), sizeof(strataUniqueId)), 0);
  EXPECT_TRUE(decodeUniqueId(a.value())->rankZeroHosts);
  EnvGuard broken("STRATA_COMM_ID", "nonsense");
  Status s = createUniqueId().status();
  EXPECT_EQ(s.code(), strataInvalidArgument);
  EXPECT_NE(s.message().find("STRATA_COMM_ID"), std::string::npos) << s.message();
}

TEST(TcpWire, HeaderChecksMagicTypeAndLength) {
  std::string frame = encodeFrame(FrameType::kBye, {});
  ASSERT_EQ(frame.size(), kFrameHeaderBytes);
  auto ok = parseFrameHeader(reinterpret_cast<const uint8_t*>(frame.data()));
  ASSERT_TRUE(ok.isOk());
  EXPECT_EQ(ok->type, FrameType::kBye);

  std::string badMagic = frame;
  badMagic[0] = 'X';
  EXPECT_NE(parseFrameHeader(reinterpret_cast<const uint8_t*>(badMagic.data()))
                .status().message().find("magic"), std::string::npos);
  std::string badType = frame;
  badType[4] = 99;
  EXPECT_NE(parseFrameHeader(reinterpret_cast<const uint8_t*>(badType.data()))
                .status().message().find("type"), std::string::npos);
  std::string huge = frame;
  huge[11] = 0x40;  // 1 GiB
  EXPECT_NE(parseFrameHeader(reinterpret_cast<const uint8_t*>(huge.data()))
                .status().message().find("oversized"), std::string::npos);
}

TEST(TcpWire, MessagesRoundTripAndTruncationIsCaught) {
  std::vector<std::string> blobs = {"", "one", std::string(1000, 'z')};
  auto frame = encodeAllgatherResultFrame(7, blobs);
  ASSERT_TRUE(frame.isOk());
  std::string_view payload(frame.value());
  payload.remove_prefix(kFrameHeaderBytes);
  auto back = decodeAllgatherResult(payload);
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(back->seq, 7u);
  EXPECT_EQ(back->blobs, blobs);
  EXPECT_FALSE(decodeAllgatherResult(payload.substr(0, payload.size() - 1)).isOk());

  std::string peer = encodePeerFrame(FrameType::kSend, 3, -5, "hi");
  auto p = decodePeer(std::string_view(peer).substr(kFrameHeaderBytes));
  ASSERT_TRUE(p.isOk());
  EXPECT_EQ(p->peer, 3);
  EXPECT_EQ(p->tag, -5);
  EXPECT_EQ(p->blob, "hi");
  EXPECT_FALSE(decodePeer("abc").isOk());

  BootstrapSecret secret = randomSecret();
  std::string hello = encodeHelloFrame(kWireProtocolVersion, secret, 2, 4);
  auto h = decodeHello(std::string_view(hello).substr(kFrameHeaderBytes));
  ASSERT_TRUE(h.isOk());
  EXPECT_EQ(h->secret, secret);
  EXPECT_EQ(h->rank, 2);
  EXPECT_EQ(h->nranks, 4);
  EXPECT_FALSE(decodeHello(std::string_view(hello).substr(kFrameHeaderBytes, 20)).isOk());
}

// The root's answer to a rank whose allgather wait timed out: whom it still waits for.
TEST(TcpWire, ProgressRoundTripsAndCountsMustMatchThePayload) {
  std::string query = encodeProgressQueryFrame(9);
  auto q = decodeProgressQuery(std::string_view(query).substr(kFrameHeaderBytes));
  ASSERT_TRUE(q.isOk());
  EXPECT_EQ(q.value(), 9u);
  EXPECT_FALSE(decodeProgressQuery("1234567").isOk());
  EXPECT_FALSE(decodeProgressQuery("123456789").isOk());

  ProgressMsg m;
  m.seq = 5;
  m.notJoined = {3};
  m.behindRound = {1, 2};
  std::string frame = encodeProgressFrame(m);
  std::string_view payload = std::string_view(frame).substr(kFrameHeaderBytes);
  auto back = decodeProgress(payload);
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(back->seq, 5u);
  EXPECT_EQ(back->notJoined, m.notJoined);
  EXPECT_EQ(back->behindRound, m.behindRound);
  EXPECT_FALSE(decodeProgress(payload.substr(0, payload.size() - 4)).isOk());
  // A count that claims more ranks than the payload holds is refused before anything is read.
  std::string lying(payload);
  lying[8] = '\xff';
  lying[9] = '\xff';
  EXPECT_FALSE(decodeProgress(lying).isOk());
}

class TcpAllgather : public TcpBootstrapTest, public ::testing::WithParamInterface<int> {};

TEST_P(TcpAllgather, GathersBlobsOfManySizesOverRounds) {
  const int n = GetParam();
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk()) << id.status().message();
  EXPECT_EQ(rootOf(id.value()).hostString(), "127.0.0.1");
  std::vector<int> failures(n, 0);
  std::vector<std::string> errors(n);
  runRanks(n, [&](int r) {
    auto bs = connectTcpBootstrap(id.value(), r, n, timeoutOf(5000));
    if (!bs.isOk()) {
      errors[r] = bs.status().message();
      ++failures[r];
      return;
    }
    EXPECT_EQ(bs.value()->rank(), r);
    EXPECT_EQ(bs.value()->size(), n);
    for (int round = 0; round < 4; ++round) {
      auto all = bs.value()->allgather(blobFor(r, round));
      if (!all.isOk()) {
        errors[r] = all.status().message();
        ++failures[r];
        return;
      }
      for (int i = 0; i < n; ++i)
        if (all.value()[i] != blobFor(i, round)) ++failures[r];
    }
  });
  for (int r = 0; r < n; ++r) EXPECT_EQ(failures[r], 0) << "rank " << r << ": " << errors[r];
}

INSTANTIATE_TEST_SUITE_P(Ranks, TcpAllgather, ::testing::Values(1, 2, 5));

TEST_F(TcpBootstrapTest, BarrierAndBcast) {
  constexpr int kRanks = 3;
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  std::vector<std::string> got(kRanks);
  std::vector<int> barrierOk(kRanks, 0);  // not vector<bool>: each rank writes its own
  runRanks(kRanks, [&](int r) {
    auto bs = connectTcpBootstrap(id.value(), r, kRanks, timeoutOf(5000));
    if (!bs.isOk()) return;
    barrierOk[r] = bs.value()->barrier().isOk();
    auto v = bs.value()->bcast(r == 1 ? std::string(70000, 'b') : "ignored", 1);
    if (v.isOk()) got[r] = v.value();
  });
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_TRUE(barrierOk[r]) << r;
    EXPECT_EQ(got[r], std::string(70000, 'b')) << r;
  }
}

TEST_F(TcpBootstrapTest, SendRecvMatchesSourceAndTagInOrder) {
  constexpr int kRanks = 3;
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  std::vector<int> failures(kRanks, 0);
  runRanks(kRanks, [&](int r) {
    auto made = connectTcpBootstrap(id.value(), r, kRanks, timeoutOf(5000));
    if (!made.isOk()) {
      ++failures[r];
      return;
    }
    Bootstrap& bs = *made.value();
    // Every rank, itself included, gets two messages on tag 1 and one on tag 2 from each rank.
    for (int dst = 0; dst < kRanks; ++dst) {
      std::string base = std::to_string(r) + ">" + std::to_string(dst);
      if (!bs.send(dst, 1, base + "#a").isOk()) ++failures[r];
      if (!bs.send(dst, 2, base + "#tag2").isOk()) ++failures[r];
      if (!bs.send(dst, 1, base + "#b").isOk()) ++failures[r];
    }
    for (int src = kRanks - 1; src >= 0; --src) {
      std::string base = std::to_string(src) + ">" + std::to_string(r);
      auto t2 = bs.recv(src, 2);
      auto a = bs.recv(src, 1);
      auto b = bs.recv(src, 1);
      if (!t2.isOk() || t2.value() != base + "#tag2") ++failures[r];
      if (!a.isOk() || a.value() != base + "#a") ++failures[r];
      if (!b.isOk() || b.value() != base + "#b") ++failures[r];
    }
    if (!bs.barrier().isOk()) ++failures[r];
  });
  for (int r = 0; r < kRanks; ++r) EXPECT_EQ(failures[r], 0) << "rank " << r;
}

// A rank holding the secret cannot make the root buffer without bound for a rank that has not
// joined: past the root's bound the job fails, and the message says so.
TEST_F(TcpBootstrapTest, MessagesForARankNotJoinedYetAreBounded) {
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  auto bs = connectTcpBootstrap(id.value(), 0, 2, timeoutOf(10000));
  ASSERT_TRUE(bs.isOk()) << bs.status().message();
  const std::string blob(16u << 20, 'x');
  // 80 MiB, past the root's bound of 64 MiB for ranks that have not joined.
  Status failed;
  for (int i = 0; i < 5 && failed.isOk(); ++i) failed = bs.value()->send(1, 0, blob);
  // A send is fire and forget: the root's verdict shows on the next wait.
  if (failed.isOk()) failed = bs.value()->recv(0, 7).status();
  EXPECT_EQ(failed.code(), strataRemoteError) << failed.message();
  EXPECT_NE(failed.message().find("which has not joined yet"), std::string::npos)
      << failed.message();
}

TEST_F(TcpBootstrapTest, RejectsBadPeersAndReportsRecvTimeouts) {
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  auto bs = connectTcpBootstrap(id.value(), 0, 1, timeoutOf(200));
  ASSERT_TRUE(bs.isOk()) << bs.status().message();
  EXPECT_EQ(bs.value()->send(1, 0, "x").code(), strataInvalidArgument);
  EXPECT_EQ(bs.value()->recv(-1, 0).status().code(), strataInvalidArgument);
  Status s = bs.value()->recv(0, 9).status();
  EXPECT_EQ(s.code(), strataTimeout);
  EXPECT_NE(s.message().find("bootstrap recv: timed out after 200 ms waiting for rank 0 (tag 9)"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(connectTcpBootstrap(id.value(), 1, 1, timeoutOf(200)).status().code(),
            strataInvalidArgument);
}

TEST_F(TcpBootstrapTest, RankZeroHostsTheRootAndOthersMayStartFirst) {
  constexpr int kRanks = 4;
  std::string addr = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  auto id = uniqueIdFromAddress(addr, randomSecret());
  ASSERT_TRUE(id.isOk());
  std::vector<std::string> gathered(kRanks), errors(kRanks);
  runRanks(kRanks, [&](int r) {
    // Ranks 1..3 connect before anything listens and retry until rank 0 starts the root.
    if (r == 0) std::this_thread::sleep_for(std::chrono::milliseconds(150));
    auto bs = connectTcpBootstrap(id.value(), r, kRanks, timeoutOf(5000));
    if (!bs.isOk()) {
      errors[r] = bs.status().message();
      return;
    }
    auto all = bs.value()->allgather(std::to_string(r * r));
    if (!all.isOk()) {
      errors[r] = all.status().message();
      return;
    }
    for (const auto& s : all.value()) gathered[r] += s + ",";
  });
  for (int r = 0; r < kRanks; ++r) EXPECT_EQ(gathered[r], "0,1,4,9,") << r << ": " << errors[r];
}

// In the process hosting the root, a timeout names the ranks the root still waits for, not "the
// root".
TEST_F(TcpBootstrapTest, TheHostingRankNamesTheRanksThatNeverJoined) {
  std::string addr = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  auto id = uniqueIdFromAddress(addr, randomSecret());
  ASSERT_TRUE(id.isOk());
  auto rank0 = connectTcpBootstrap(id.value(), 0, 4, timeoutOf(300));
  ASSERT_TRUE(rank0.isOk()) << rank0.status().message();
  auto rank2 = connectTcpBootstrap(id.value(), 2, 4, timeoutOf(300));
  ASSERT_TRUE(rank2.isOk()) << rank2.status().message();
  Status s = rank0.value()->allgather("x").status();
  EXPECT_EQ(s.code(), strataTimeout);
  EXPECT_NE(s.message().find("bootstrap allgather: timed out after 300 ms waiting for ranks 1, 3, "
                             "which never joined the root this process hosts at " +
                             addr + " (rank 0 of 4)"),
            std::string::npos)
      << s.message();

  // Every rank has joined; none of the others has sent round 1, which rank 0 waits for.
  auto rank1 = connectTcpBootstrap(id.value(), 1, 4, timeoutOf(300));
  auto rank3 = connectTcpBootstrap(id.value(), 3, 4, timeoutOf(300));
  ASSERT_TRUE(rank1.isOk() && rank3.isOk());
  std::thread other1([&] { (void)rank1.value()->allgather("1"); });
  std::thread other3([&] { (void)rank3.value()->allgather("3"); });
  s = rank0.value()->allgather("y").status();
  other1.join();
  other3.join();
  EXPECT_EQ(s.code(), strataTimeout);
  EXPECT_NE(s.message().find("waiting for ranks 1-3 to send allgather round 1 to the root this "
                             "process hosts at " +
                             addr),
            std::string::npos)
      << s.message();
}

TEST_F(TcpBootstrapTest, ConnectTimesOutWhenNoRootEverListens) {
  std::string addr = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  auto id = uniqueIdFromAddress(addr, randomSecret());
  ASSERT_TRUE(id.isOk());
  Status s = connectTcpBootstrap(id.value(), 1, 2, timeoutOf(300)).status();
  EXPECT_EQ(s.code(), strataTimeout);
  EXPECT_NE(s.message().find("timed out after 300 ms waiting for the root at " + addr +
                             " (rank 1 of 2)"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("refused"), std::string::npos) << s.message();
}

// Waits until roots of earlier tests that are finishing have finished (the count holds still).
void settleRoots() {
  size_t last = liveTcpRootCount();
  auto until = Clock::now() + std::chrono::seconds(1);
  for (int still = 0; still < 10 && Clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    size_t now = liveTcpRootCount();
    still = now == last ? still + 1 : 0;
    last = now;
  }
}

TEST_F(TcpBootstrapTest, IntrudersAreDroppedWhileTheRanksComplete) {
  settleRoots();  // roots log while they finish; the log configuration must not change under them
  char logPath[] = "/tmp/strata_bootstrap_log_XXXXXX";
  int logFd = mkstemp(logPath);
  ASSERT_GE(logFd, 0);
  close(logFd);
  std::optional<EnvGuard> debug(std::in_place, "STRATA_DEBUG", "WARN");
  std::optional<EnvGuard> debugFile(std::in_place, "STRATA_DEBUG_FILE", logPath);
  reloadLogConfig();

  constexpr int kRanks = 3;
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  size_t rootsWithOurs = liveTcpRootCount();
  SockAddr root = rootOf(id.value());
  BootstrapSecret wrong = decodeUniqueId(id.value())->secret;
  wrong[5] ^= 0x40;
  std::string oversized = encodeFrame(FrameType::kHello, {});
  oversized[11] = 0x40;  // announces a 1 GiB payload
  std::string bigHello = encodeFrame(FrameType::kHello, {});
  bigHello[10] = 0x10;   // 1 MiB: under the frame cap, far over a hello

  struct Intruder {
    std::string bytes;
    std::string reason;
  };
  std::vector<Intruder> intruders = {
      {encodeHelloFrame(kWireProtocolVersion, wrong, 0, kRanks), "wrong secret"},
      {encodeHelloFrame(kWireProtocolVersion + 1, decodeUniqueId(id.value())->secret, 0, kRanks),
       "protocol version"},
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "bad frame magic"},
      {oversized, "oversized frame"},
      {bigHello, "oversized hello"},
      {encodeFrame(FrameType::kAllgather, "xxxxxxxxxxxx"), "expected HELLO"},
  };
  std::vector<std::unique_ptr<RawClient>> clients;
  for (const auto& in : intruders) {
    clients.push_back(std::make_unique<RawClient>(root));
    ASSERT_TRUE(clients.back()->connected());
    clients.back()->sendBytes(in.bytes);
  }

  std::vector<std::string> results(kRanks);
  std::atomic<int> joined{0};
  std::atomic<bool> duplicateDone{false};
  std::string duplicateReply;
  runRanks(kRanks + 1, [&](int r) {
    if (r == kRanks) {
      // Once the real ranks hold their places, one more claims rank 1 with the right secret.
      while (joined.load() < kRanks) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      RawClient dup(root);
      EXPECT_TRUE(dup.connected());
      dup.sendBytes(encodeHelloFrame(id.value(), 1, kRanks));
      EXPECT_TRUE(dup.waitClosed(2000));
      duplicateReply = dup.received();
      duplicateDone = true;
      return;
    }
    auto bs = connectTcpBootstrap(id.value(), r, kRanks, timeoutOf(5000));
    if (!bs.isOk()) {
      results[r] = bs.status().message();
      return;
    }
    ++joined;
    // Stay connected until the duplicate has been turned away: a root whose ranks have all
    // left stops listening.
    while (!duplicateDone.load()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    for (int round = 0; round < 3; ++round) {
      auto all = bs.value()->allgather(std::to_string(r + 10 * round));
      if (!all.isOk()) {
        results[r] = all.status().message();
        return;
      }
      results[r] = all.value()[0] + all.value()[1] + all.value()[2];
    }
  });
  for (int r = 0; r < kRanks; ++r) EXPECT_EQ(results[r], "202122") << r;
  EXPECT_NE(duplicateReply.find("rank 1 has already joined"), std::string::npos);

  for (auto& c : clients) EXPECT_TRUE(c->waitClosed(2000));
  // The root logs until its thread ends; reload the log configuration only after that.
  auto until = Clock::now() + std::chrono::seconds(2);
  while (liveTcpRootCount() >= rootsWithOurs && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  debug.reset();
  debugFile.reset();
  reloadLogConfig();
  std::ifstream in(logPath);
  std::stringstream log;
  log << in.rdbuf();
  unlink(logPath);
  std::string prefix = "bootstrap root " + root.toString() + ": dropped connection from ";
  for (size_t i = 0; i < intruders.size(); ++i)
    EXPECT_NE(log.str().find(prefix + clients[i]->localAddress() + ": " + intruders[i].reason),
              std::string::npos)
        << intruders[i].reason << "\n" << log.str();
}

// Past the budget of connections that have not proved the secret, the oldest is told BUSY and
// closed to make room for the newest, which is served.
TEST_F(TcpBootstrapTest, OldestUnauthenticatedConnectionIsToldBusyToMakeRoom) {
  TcpRootOptions opts;
  opts.bind.addr = {127, 0, 0, 1};
  opts.secret = randomSecret();
  opts.maxUnauthenticated = 2;
  auto root = startTcpRoot(opts);
  ASSERT_TRUE(root.isOk()) << root.status().message();
  RawClient oldest(root.value());
  RawClient second(root.value());
  RawClient newest(root.value());
  ASSERT_TRUE(oldest.connected() && second.connected() && newest.connected());
  EXPECT_TRUE(oldest.waitClosed(5000)) << "the oldest connection was kept";
  ASSERT_GE(oldest.received().size(), kFrameHeaderBytes);
  auto h = parseFrameHeader(reinterpret_cast<const uint8_t*>(oldest.received().data()));
  ASSERT_TRUE(h.isOk()) << h.status().message();
  EXPECT_EQ(h.value().type, FrameType::kBusy);
  // The newest is served: its hello is welcomed.
  newest.sendBytes(encodeHelloFrame(kWireProtocolVersion, opts.secret, 0, 1));
  ASSERT_TRUE(newest.readAtLeast(kFrameHeaderBytes, 5000));
  auto w = parseFrameHeader(reinterpret_cast<const uint8_t*>(newest.received().data()));
  ASSERT_TRUE(w.isOk()) << w.status().message();
  EXPECT_EQ(w.value().type, FrameType::kWelcome);
}

TEST_F(TcpBootstrapTest, SilentConnectionsAreDroppedAfterTheHelloTimeout) {
  TcpRootOptions opts;
  opts.bind.addr = {127, 0, 0, 1};
  opts.secret = randomSecret();
  opts.helloTimeoutMs = 100;
  auto root = startTcpRoot(opts);
  ASSERT_TRUE(root.isOk()) << root.status().message();
  RawClient silent(root.value());
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.waitClosed(2000));
}

TEST_F(TcpBootstrapTest, MismatchedRankCountIsRefusedAtConnect) {
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  auto first = connectTcpBootstrap(id.value(), 0, 2, timeoutOf(2000));
  ASSERT_TRUE(first.isOk());
  Status s = connectTcpBootstrap(id.value(), 1, 3, timeoutOf(2000)).status();
  EXPECT_EQ(s.code(), strataRemoteError);
  EXPECT_NE(s.message().find("rank 1 says the job has 3 ranks"), std::string::npos)
      << s.message();
}

TEST_F(TcpBootstrapTest, ARankThatNeverArrivesTimesTheOthersOut) {
  constexpr int kRanks = 3;
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  std::string rootName = rootOf(id.value()).toString();
  std::vector<Status> got(2);
  runRanks(2, [&](int r) {
    auto bs = connectTcpBootstrap(id.value(), r, kRanks, timeoutOf(1000));
    if (!bs.isOk()) {
      got[r] = bs.status();
      return;
    }
    got[r] = bs.value()->allgather("x").status();
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(got[r].code(), strataTimeout) << got[r].message();
    // The root lives in this process, so the timeout names the rank it still waits for.
    EXPECT_NE(got[r].message().find("bootstrap allgather: timed out after 1000 ms waiting for "
                                    "rank 2, which never joined the root this process hosts at " +
                                    rootName + " (rank " + std::to_string(r) + " of 3)"),
              std::string::npos)
        << got[r].message();
  }
}

TEST_F(TcpBootstrapTest, AbortEndsAWaitThatHasNoDeadline) {
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  AbortFlag abort{false};
  auto idle = connectTcpBootstrap(id.value(), 1, 2, timeoutOf(0));
  auto waiter = connectTcpBootstrap(id.value(), 0, 2, timeoutOf(0, &abort));
  ASSERT_TRUE(idle.isOk()) << idle.status().message();
  ASSERT_TRUE(waiter.isOk()) << waiter.status().message();
  Status gather, recv;
  Clock::time_point abortedAt;
  std::thread aborter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    abortedAt = Clock::now();
    abort.store(true);
  });
  gather = waiter.value()->allgather("x").status();  // rank 1 never joins the round
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - abortedAt);
  aborter.join();
  recv = waiter.value()->recv(1, 0).status();
  EXPECT_EQ(gather.code(), strataRemoteError);
  EXPECT_NE(gather.message().find("bootstrap allgather: aborted (rank 0 of 2)"), std::string::npos)
      << gather.message();
  EXPECT_EQ(recv.code(), strataRemoteError);
  RecordProperty("abort_to_return_ms", static_cast<int>(took.count()));
}

TEST_F(TcpBootstrapTest, ADisconnectedRankIsNamedToTheOthers) {
  constexpr int kRanks = 3;
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  std::vector<Status> got(kRanks);
  runRanks(kRanks, [&](int r) {
    if (r == 2) {
      // Joins, then vanishes without BYE, as a killed process would.
      RawClient rank2(rootOf(id.value()));
      rank2.sendBytes(encodeHelloFrame(id.value(), 2, kRanks));
      EXPECT_TRUE(rank2.readAtLeast(kFrameHeaderBytes, 2000));
      return;
    }
    auto bs = connectTcpBootstrap(id.value(), r, kRanks, timeoutOf(5000));
    if (!bs.isOk()) {
      got[r] = bs.status();
      return;
    }
    got[r] = bs.value()->allgather("x").status();
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(got[r].code(), strataRemoteError) << got[r].message();
    EXPECT_NE(got[r].message().find("rank 2 disconnected"), std::string::npos) << got[r].message();
  }
}

TEST_F(TcpBootstrapTest, AnAbortedRankLooksDisconnectedToItsPeers) {
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  AbortFlag abort{false};
  auto survivor = connectTcpBootstrap(id.value(), 0, 2, timeoutOf(5000));
  auto quitter = connectTcpBootstrap(id.value(), 1, 2, timeoutOf(5000, &abort));
  ASSERT_TRUE(survivor.isOk());
  ASSERT_TRUE(quitter.isOk());
  abort.store(true);
  quitter.value().reset();
  Status s = survivor.value()->barrier();
  EXPECT_EQ(s.code(), strataRemoteError);
  EXPECT_NE(s.message().find("rank 1 disconnected"), std::string::npos) << s.message();
}

TEST_F(TcpBootstrapTest, ChildBootstrapsFormNewGroups) {
  constexpr int kRanks = 3;
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  std::vector<std::string> gathered(kRanks), errors(kRanks);
  runRanks(kRanks, [&](int r) {
    auto made = connectTcpBootstrap(id.value(), r, kRanks, timeoutOf(5000));
    if (!made.isOk()) return;
    Bootstrap& bs = *made.value();
    // Ranks 0 and 2 form one child group; rank 1 a group of its own.
    std::string mine = r < 2 ? bs.newChildId().value() : std::string();
    auto ids = bs.allgather(mine);
    if (!ids.isOk()) return;
    EXPECT_NE(ids.value()[0], ids.value()[1]);
    auto child = r == 1 ? bs.joinChild(ids.value()[1], 0, 1) : bs.joinChild(ids.value()[0], r / 2, 2);
    if (!child.isOk()) {
      errors[r] = child.status().message();
      return;
    }
    auto all = child.value()->allgather("c" + std::to_string(r));
    if (!all.isOk()) {
      errors[r] = all.status().message();
      return;
    }
    for (const auto& s : all.value()) gathered[r] += s;
    EXPECT_TRUE(bs.barrier().isOk());
  });
  EXPECT_EQ(gathered[0], "c0c2") << errors[0];
  EXPECT_EQ(gathered[2], "c0c2") << errors[2];
  EXPECT_EQ(gathered[1], "c1") << errors[1];
}

TEST_F(TcpBootstrapTest, RootExitsOnceEveryRankHasLeft) {
  settleRoots();
  size_t before = liveTcpRootCount();
  auto id = createUniqueId();
  ASSERT_TRUE(id.isOk());
  EXPECT_EQ(liveTcpRootCount(), before + 1);
  runRanks(2, [&](int r) {
    auto bs = connectTcpBootstrap(id.value(), r, 2, timeoutOf(5000));
    ASSERT_TRUE(bs.isOk()) << bs.status().message();
    EXPECT_TRUE(bs.value()->barrier().isOk());
  });
  auto until = Clock::now() + std::chrono::seconds(2);
  while (liveTcpRootCount() > before && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_LE(liveTcpRootCount(), before);
}

}  // namespace
}  // namespace strata
