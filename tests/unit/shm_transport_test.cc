#include "transports/shm/shm_transport.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/inprocess_bootstrap.h"
#include "base/host_id.h"
#include "transports/shm/process_liveness.h"
#include "transports/shm/shm_segment.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

// Upper bound on any loop that waits for data, so a broken FIFO fails instead of hanging.
constexpr std::chrono::seconds kHangGuard{20};

std::set<std::string> strataSegmentsInDevShm() {
  std::set<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    std::string name = entry.path().filename().string();
    if (name.rfind("strata-", 0) == 0) out.insert("/" + name);
  }
  return out;
}

std::vector<PeerInfo> sameHostPeers(int nranks) {
  std::vector<PeerInfo> peers(static_cast<size_t>(nranks));
  for (int r = 0; r < nranks; ++r) {
    peers[r].rank = r;
    peers[r].pid = static_cast<int>(getpid());
    peers[r].hostId = "test-host";
  }
  return peers;
}

ShmOptions smallFifo(size_t chunkBytes = 4096, int slots = 4) {
  ShmOptions o;
  o.chunkBytes = chunkBytes;
  o.slots = slots;
  return o;
}

// Runs createShmTransport on one thread per rank. wrap may decorate each rank's bootstrap.
struct TransportSet {
  std::vector<std::unique_ptr<Bootstrap>> bootstraps;
  std::vector<std::unique_ptr<Transport>> transports;
  std::vector<Status> statuses;
  bool allOk() const {
    for (const auto& s : statuses)
      if (!s.isOk()) return false;
    return true;
  }
};

TransportSet makeTransports(int nranks, const std::vector<PeerInfo>& peers,
                            const std::function<ShmOptions(int)>& optionsFor,
                            const std::function<Bootstrap&(int, Bootstrap&)>& wrap = nullptr) {
  BootstrapOptions bopts;
  bopts.timeoutMs = 10000;
  TransportSet set;
  set.bootstraps = createInProcessBootstraps(nranks, bopts);
  set.transports.resize(static_cast<size_t>(nranks));
  set.statuses.resize(static_cast<size_t>(nranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < nranks; ++r) {
    threads.emplace_back([&, r] {
      Bootstrap& bs = wrap ? wrap(r, *set.bootstraps[r]) : *set.bootstraps[r];
      auto t = createShmTransport(bs, peers, optionsFor(r));
      set.statuses[r] = t.status();
      if (t.isOk()) set.transports[r] = std::move(t.value());
    });
  }
  for (auto& t : threads) t.join();
  return set;
}

TransportSet makeTransports(int nranks, const ShmOptions& opts) {
  return makeTransports(nranks, sameHostPeers(nranks), [&](int) { return opts; });
}

std::byte pattern(int src, int dst, size_t i) {
  return static_cast<std::byte>((src * 31 + dst * 7 + i * 13 + (i >> 9)) & 0xff);
}

std::vector<std::byte> makeMessage(int src, int dst, size_t bytes) {
  std::vector<std::byte> m(bytes);
  for (size_t i = 0; i < bytes; ++i) m[i] = pattern(src, dst, i);
  return m;
}

// What a receiver saw of one message.
struct Received {
  std::vector<std::byte> data;
  bool msgBytesConsistent = true;
  size_t largestChunk = 0;
};

// Sends out[dst] to every rank and receives one message of expect[src] bytes from every rank,
// progressing all of them together the way an executor would (so FIFOs smaller than the
// messages cannot deadlock).
void exchangeAll(Transport& t, int nranks, const std::vector<std::vector<std::byte>>& out,
                 const std::vector<size_t>& expect, std::vector<Received>& in) {
  std::vector<size_t> sent(static_cast<size_t>(nranks), 0);
  in.assign(static_cast<size_t>(nranks), Received{});
  auto start = Clock::now();
  bool done = false;
  while (!done && Clock::now() - start < kHangGuard) {
    done = true;
    for (int p = 0; p < nranks; ++p) {
      const auto& msg = out[p];
      if (sent[p] < msg.size()) {
        sent[p] += t.endpoint(p).push(msg.data() + sent[p], msg.size() - sent[p], msg.size(), 0);
        done = done && sent[p] == msg.size();
      }
      Received& r = in[p];
      for (RecvChunk c = t.endpoint(p).peek(); !c.empty(); c = t.endpoint(p).peek()) {
        r.data.insert(r.data.end(), c.data, c.data + c.bytes);
        r.msgBytesConsistent = r.msgBytesConsistent && c.msgBytes == expect[p];
        r.largestChunk = std::max(r.largestChunk, c.bytes);
        t.endpoint(p).pop();
      }
      done = done && r.data.size() >= expect[p];
    }
    if (!done) std::this_thread::yield();
  }
}

// Bootstrap decorator that inspects the published segments between the name exchange and the
// unlink: their permissions, and later whether the names are gone.
class SegmentInspector final : public Bootstrap {
 public:
  explicit SegmentInspector(Bootstrap& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  Result<std::vector<std::string>> allgather(const std::string& mine) override {
    auto all = inner_.allgather(mine);
    if (all.isOk() && ++calls_ == 1) {
      for (const std::string& blob : all.value()) {
        std::string name;
        std::istringstream(blob) >> name;
        struct stat st {};
        names.push_back(name);
        modes.push_back(::stat(("/dev/shm" + name).c_str(), &st) == 0 ? (st.st_mode & 07777) : ~0u);
      }
    }
    return all;
  }
  Status send(int peer, int tag, const std::string& data) override {
    return inner_.send(peer, tag, data);
  }
  Result<std::string> recv(int peer, int tag) override { return inner_.recv(peer, tag); }
  Result<std::string> newChildId() override { return inner_.newChildId(); }
  Result<std::unique_ptr<Bootstrap>> joinChild(const std::string& id, int rank,
                                               int nranks) override {
    return inner_.joinChild(id, rank, nranks);
  }
  void setAbortFlag(const AbortFlag* abort) override { inner_.setAbortFlag(abort); }

  std::vector<std::string> names;
  std::vector<unsigned> modes;

 private:
  Bootstrap& inner_;
  int calls_ = 0;
};

// Two ranks in two processes joined by a socketpair: just enough bootstrap for a shm transport.
class SocketPairBootstrap final : public Bootstrap {
 public:
  SocketPairBootstrap(int rank, int fd) : rank_(rank), fd_(fd) {
    timeval tv{10, 0};  // a dead peer fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  Result<std::vector<std::string>> allgather(const std::string& mine) override {
    uint64_t len = mine.size();
    if (!writeAll(&len, sizeof(len)) || !writeAll(mine.data(), mine.size()))
      return Status(strataSystemError, "socketpair write");
    std::string theirs;
    if (!readAll(&len, sizeof(len))) return Status(strataSystemError, "socketpair read");
    theirs.resize(len);
    if (!readAll(theirs.data(), len)) return Status(strataSystemError, "socketpair read");
    return rank_ == 0 ? std::vector<std::string>{mine, theirs}
                      : std::vector<std::string>{theirs, mine};
  }
  Status send(int, int, const std::string&) override { return unsupported(); }
  Result<std::string> recv(int, int) override { return unsupported(); }
  Result<std::string> newChildId() override { return unsupported(); }
  Result<std::unique_ptr<Bootstrap>> joinChild(const std::string&, int, int) override {
    return unsupported();
  }
  void setAbortFlag(const AbortFlag*) override {}

 private:
  static Status unsupported() { return Status(strataInternalError, "not needed by this test"); }
  bool writeAll(const void* p, size_t n) {
    for (size_t done = 0; done < n;) {
      ssize_t k = ::write(fd_, static_cast<const char*>(p) + done, n - done);
      if (k <= 0) return false;
      done += static_cast<size_t>(k);
    }
    return true;
  }
  bool readAll(void* p, size_t n) {
    for (size_t done = 0; done < n;) {
      ssize_t k = ::read(fd_, static_cast<char*>(p) + done, n - done);
      if (k <= 0) return false;
      done += static_cast<size_t>(k);
    }
    return true;
  }

  int rank_;
  int fd_;
};

// Receives one whole message on ep, giving up when checkPeers reports a failure.
std::vector<std::byte> receiveMessage(Transport& t, Endpoint& ep, size_t bytes) {
  std::vector<std::byte> out;
  auto start = Clock::now();
  while (out.size() < bytes && t.checkPeers().isOk() && Clock::now() - start < kHangGuard) {
    RecvChunk c = ep.peek();
    if (c.empty()) {
      std::this_thread::yield();
      continue;
    }
    out.insert(out.end(), c.data, c.data + c.bytes);
    ep.pop();
  }
  return out;
}

bool sendMessage(Transport& t, Endpoint& ep, const std::vector<std::byte>& msg) {
  size_t sent = 0;
  auto start = Clock::now();
  while (sent < msg.size() && t.checkPeers().isOk() && Clock::now() - start < kHangGuard) {
    size_t n = ep.push(msg.data() + sent, msg.size() - sent, msg.size(), 0);
    if (n == 0) std::this_thread::yield();
    sent += n;
  }
  return sent == msg.size();
}

// A child process that is SIGKILLed but not reaped: a zombie until the test waits for it.
class KilledChild {
 public:
  KilledChild() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a test run that crashed
      for (;;) ::pause();
    }
  }
  ~KilledChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap();
    }
  }
  KilledChild(const KilledChild&) = delete;
  KilledChild& operator=(const KilledChild&) = delete;

  pid_t pid() const { return pid_; }
  // Kills the child and waits until /proc shows it dead, without reaping it.
  bool killAndAwaitZombie() {
    ::kill(pid_, SIGKILL);
    auto start = Clock::now();
    while (!processExited(pid_) && Clock::now() - start < kHangGuard)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return processExited(pid_);
  }
  void reap() {
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

TEST(PeerInfo, RoundTrips) {
  PeerInfo p;
  p.rank = 17;
  p.pid = 4242;
  p.hostId = "node 7:0f2c-boot id";
  auto q = PeerInfo::parse(p.serialize());
  ASSERT_TRUE(q.isOk()) << q.status().message();
  EXPECT_EQ(q.value().rank, 17);
  EXPECT_EQ(q.value().pid, 4242);
  EXPECT_EQ(q.value().hostId, p.hostId);

  PeerInfo empty;
  empty.rank = 0;
  auto e = PeerInfo::parse(empty.serialize());
  ASSERT_TRUE(e.isOk());
  EXPECT_EQ(e.value().hostId, "");
}

TEST(PeerInfo, RejectsGarbage) {
  PeerInfo p;
  p.rank = 3;
  p.pid = 10;
  p.hostId = "h";
  std::string good = p.serialize();
  for (const std::string& bad :
       {std::string(), std::string("garbage"), std::string("strata-peer/1"),
        std::string("strata-peer/1 "), std::string("strata-peer/2 3 10 1 h"),
        std::string("strata-peer/1 -3 10 1 h"), std::string("strata-peer/1 3 x 1 h"),
        std::string("strata-peer/1 3 10 2 h"), std::string("strata-peer/1 3 10 99999999 h"),
        std::string("strata-peer/1 3  10 1 h"), good + "extra", good.substr(0, good.size() - 1),
        std::string("strata-peer/1 3 10 1"), std::string("\0\0\0\0", 4)}) {
    auto r = PeerInfo::parse(bad);
    EXPECT_FALSE(r.isOk()) << "accepted: " << bad;
    EXPECT_EQ(r.status().code(), strataInvalidArgument);
  }
}

TEST(HostId, EnvironmentOverridesHostnameAndBootId) {
  ::setenv("STRATA_HOSTID", "netns-node-3", 1);
  EXPECT_EQ(localHostId(), "netns-node-3");
  ::unsetenv("STRATA_HOSTID");
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  std::string id = localHostId();
  EXPECT_EQ(id.rfind(std::string(host) + ":", 0), 0u) << id;
  EXPECT_GT(id.size(), std::string(host).size() + 1) << id;
  EXPECT_EQ(localHostId(), id);
}

TEST(ProcessLiveness, SelfIsAliveAndAKilledChildIsExitedBeforeAndAfterReaping) {
  EXPECT_FALSE(processExited(static_cast<int>(getpid())));
  EXPECT_TRUE(processExited(0));
  KilledChild child;
  ASSERT_GT(child.pid(), 0);
  EXPECT_FALSE(processExited(child.pid()));
  EXPECT_TRUE(child.killAndAwaitZombie());
  ASSERT_EQ(::kill(child.pid(), 0), 0) << "the zombie should still exist for kill(pid, 0)";
  pid_t pid = child.pid();
  child.reap();
  EXPECT_TRUE(processExited(pid));
}

// A segment whose owner was SIGKILLed before unlinking it is removed by the next create on the
// host; one whose owner still runs (setting up, say) is left alone.
TEST(ShmSegment, LeftoversOfExitedOwnersAreSweptAtCreate) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  const std::string hex(32, 'a');
  const std::string dead = "/strata-" + std::to_string(child) + "-" + hex;
  const std::string alive = "/strata-" + std::to_string(::getppid()) + "-" + hex;
  for (const std::string& name : {dead, alive}) {
    int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << name;
    ::close(fd);
  }
  auto seg = ShmSegment::create(4096);
  ASSERT_TRUE(seg.isOk()) << seg.status().message();
  struct stat st {};
  EXPECT_NE(::stat(("/dev/shm" + dead).c_str(), &st), 0) << dead << " was not swept";
  EXPECT_EQ(::stat(("/dev/shm" + alive).c_str(), &st), 0) << alive << " was swept";
  ::shm_unlink(alive.c_str());
}

TEST(ShmSegment, IsPrivateToTheUserAndUnlinkedByItsOwner) {
  auto seg = ShmSegment::create(12345);
  ASSERT_TRUE(seg.isOk()) << seg.status().message();
  std::string name = seg.value().name();
  EXPECT_EQ(name, "/strata-" + std::to_string(::getpid()) + name.substr(name.rfind('-')));
  EXPECT_EQ(name.size() - name.rfind('-') - 1, 32u);
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm" + name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 12345);

  auto peer = ShmSegment::open(name, 12345);
  ASSERT_TRUE(peer.isOk()) << peer.status().message();
  seg.value().data()[100] = std::byte{42};
  EXPECT_EQ(peer.value().data()[100], std::byte{42});
  EXPECT_EQ(ShmSegment::open(name, 999).status().code(), strataInvalidArgument);

  ASSERT_TRUE(seg.value().unlink().isOk());
  EXPECT_NE(::stat(("/dev/shm" + name).c_str(), &st), 0);
  seg.value().data()[101] = std::byte{7};  // the mapping survives the unlink
  EXPECT_EQ(peer.value().data()[101], std::byte{7});
}

TEST(ShmSegment, DestructorUnlinksAnUnpublishedSegment) {
  std::string name;
  {
    auto seg = ShmSegment::create(4096);
    ASSERT_TRUE(seg.isOk());
    name = seg.value().name();
    EXPECT_EQ(strataSegmentsInDevShm().count(name), 1u);
  }
  EXPECT_EQ(strataSegmentsInDevShm().count(name), 0u);
}

TEST(ShmTransport, RejectsPeersOnAnotherHost) {
  auto peers = sameHostPeers(3);
  peers[2].hostId = "other-host";
  auto set = makeTransports(3, peers, [](int) { return smallFifo(); });
  EXPECT_EQ(set.statuses[0].code(), strataInvalidArgument);
  EXPECT_EQ(set.statuses[0].message(),
            "no transport between rank 0 (host test-host) and rank 2 (host other-host): shared "
            "memory needs one host");
  EXPECT_EQ(set.statuses[2].code(), strataInvalidArgument);
  EXPECT_NE(set.statuses[2].message().find("rank 2 (host other-host)"), std::string::npos);
}

TEST(ShmTransport, RejectsRanksWithDifferentFifoGeometry) {
  auto set = makeTransports(2, sameHostPeers(2),
                            [](int r) { return r == 0 ? smallFifo(4096, 4) : smallFifo(8192, 4); });
  EXPECT_EQ(set.statuses[0].code(), strataInvalidArgument);
  EXPECT_EQ(set.statuses[1].code(), strataInvalidArgument);
  EXPECT_NE(set.statuses[0].message().find("rank 1"), std::string::npos)
      << set.statuses[0].message();
}

TEST(ShmTransport, SegmentsAre0600DuringSetupAndGoneAfterIt) {
  constexpr int kRanks = 3;
  auto before = strataSegmentsInDevShm();
  std::vector<std::unique_ptr<SegmentInspector>> inspectors(kRanks);
  auto set = makeTransports(
      kRanks, sameHostPeers(kRanks), [](int) { return smallFifo(); },
      [&](int r, Bootstrap& inner) -> Bootstrap& {
        inspectors[r] = std::make_unique<SegmentInspector>(inner);
        return *inspectors[r];
      });
  ASSERT_TRUE(set.allOk()) << set.statuses[0].message();
  auto after = strataSegmentsInDevShm();
  const auto& names = inspectors[0]->names;
  ASSERT_EQ(names.size(), static_cast<size_t>(kRanks));
  std::set<std::string> distinct(names.begin(), names.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kRanks));
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(names[r].rfind("/strata-", 0), 0u) << names[r];
    EXPECT_EQ(inspectors[0]->modes[r], 0600u) << names[r];
    EXPECT_EQ(before.count(names[r]), 0u) << names[r];
    EXPECT_EQ(after.count(names[r]), 0u) << names[r] << " left in /dev/shm";
  }
}

TEST(ShmTransport, LoopbackToSelf) {
  auto set = makeTransports(1, smallFifo(64, 2));
  ASSERT_TRUE(set.allOk()) << set.statuses[0].message();
  Transport& t = *set.transports[0];
  EXPECT_STREQ(t.name(), "shm");
  Endpoint& self = t.endpoint(0);
  EXPECT_TRUE(self.peek().empty());

  auto msg = makeMessage(0, 0, 100);
  EXPECT_EQ(self.push(msg.data(), msg.size(), msg.size(), 0), 100u);  // 64 + 36: both slots
  EXPECT_EQ(self.push(msg.data(), msg.size(), msg.size(), 0), 0u);    // full
  RecvChunk a = self.peek();
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a.bytes, 64u);
  EXPECT_EQ(a.msgBytes, 100u);
  EXPECT_EQ(std::memcmp(a.data, msg.data(), 64), 0);
  self.pop();
  RecvChunk b = self.peek();
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b.bytes, 36u);
  EXPECT_EQ(b.msgBytes, 100u);
  EXPECT_EQ(std::memcmp(b.data, msg.data() + 64, 36), 0);
  self.pop();
  EXPECT_TRUE(self.peek().empty());
  self.pop();  // nothing to pop: no effect
  EXPECT_EQ(self.push(msg.data(), 10, 10, 0), 10u);
  EXPECT_EQ(self.peek().bytes, 10u);
}

TEST(ShmTransport, PushFillsOnlyFreeSlotsAndPopReleasesThem) {
  auto set = makeTransports(2, smallFifo(1000, 3));
  ASSERT_TRUE(set.allOk()) << set.statuses[0].message();
  auto msg = makeMessage(0, 1, 5000);
  Endpoint& tx = set.transports[0]->endpoint(1);
  Endpoint& rx = set.transports[1]->endpoint(0);
  EXPECT_EQ(tx.push(msg.data(), 5000, 5000, 0), 3000u);
  EXPECT_EQ(tx.push(msg.data() + 3000, 2000, 5000, 0), 0u);
  ASSERT_EQ(rx.peek().bytes, 1000u);
  rx.pop();
  EXPECT_EQ(tx.push(msg.data() + 3000, 2000, 5000, 0), 1000u);
  EXPECT_TRUE(set.transports[0]->endpoint(0).peek().empty());  // nothing crossed to the wrong FIFO
  EXPECT_TRUE(set.transports[1]->endpoint(1).peek().empty());
}

TEST(ShmTransport, MessagesLargerThanTheFifoCrossBetweenTwoThreads) {
  constexpr size_t kBytes = (1u << 20) + 3;  // far more than 4 slots x 4 KiB
  auto set = makeTransports(2, smallFifo(4096, 4));
  ASSERT_TRUE(set.allOk()) << set.statuses[0].message();
  std::vector<std::vector<Received>> got(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::vector<std::vector<std::byte>> out{{}, {}};
      std::vector<size_t> expect{0, 0};
      out[1 - r] = makeMessage(r, 1 - r, kBytes);
      expect[1 - r] = kBytes;
      exchangeAll(*set.transports[r], 2, out, expect, got[r]);
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < 2; ++r) {
    const Received& in = got[r][1 - r];
    EXPECT_TRUE(in.data == makeMessage(1 - r, r, kBytes)) << "rank " << r;
    EXPECT_TRUE(in.msgBytesConsistent) << "rank " << r;
    EXPECT_EQ(in.largestChunk, 4096u);
  }
}

TEST(ShmTransport, FourRanksExchangeWithEveryoneIncludingThemselves) {
  constexpr int kRanks = 4;
  auto set = makeTransports(kRanks, smallFifo(1024, 3));
  ASSERT_TRUE(set.allOk()) << set.statuses[0].message();
  auto bytesFor = [](int src, int dst) {
    return static_cast<size_t>(5000 + 977 * src + 131 * dst);
  };
  std::vector<std::vector<Received>> got(kRanks);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r) {
    threads.emplace_back([&, r] {
      std::vector<std::vector<std::byte>> out;
      std::vector<size_t> expect;
      for (int p = 0; p < kRanks; ++p) {
        out.push_back(makeMessage(r, p, bytesFor(r, p)));
        expect.push_back(bytesFor(p, r));
      }
      exchangeAll(*set.transports[r], kRanks, out, expect, got[r]);
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < kRanks; ++r) {
    for (int p = 0; p < kRanks; ++p) {
      EXPECT_TRUE(got[r][p].data == makeMessage(p, r, bytesFor(p, r))) << p << "->" << r;
      EXPECT_TRUE(got[r][p].msgBytesConsistent) << p << "->" << r;
    }
    EXPECT_TRUE(set.transports[r]->checkPeers().isOk());
  }
}

TEST(ShmTransport, CheckPeersSeesAPeerMarkAborted) {
  auto set = makeTransports(3, smallFifo());
  ASSERT_TRUE(set.allOk()) << set.statuses[0].message();
  for (auto& t : set.transports) EXPECT_TRUE(t->checkPeers().isOk());
  set.transports[1]->markAborted();
  for (int r : {0, 2}) {
    Status s = set.transports[r]->checkPeers();
    EXPECT_EQ(s.code(), strataRemoteError);
    EXPECT_NE(s.message().find("rank 1"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("aborted"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(set.transports[1]->checkPeers().isOk());
}

TEST(ShmTransport, CheckPeersSeesAPeerProcessThatExited) {
  KilledChild child;
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(child.killAndAwaitZombie());
  // Rank 1 claims to live in the killed (unreaped) child; the others run in this process.
  auto peers = sameHostPeers(3);
  peers[1].pid = child.pid();
  auto set = makeTransports(3, peers, [](int) { return smallFifo(); });
  ASSERT_TRUE(set.allOk()) << set.statuses[0].message();
  Status s = set.transports[0]->checkPeers();
  EXPECT_EQ(s.code(), strataRemoteError);
  EXPECT_NE(s.message().find("rank 1 (pid " + std::to_string(child.pid()) + ") exited"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(set.transports[0]->checkPeers().code(), strataRemoteError);  // and it stays reported
  EXPECT_TRUE(set.transports[1]->checkPeers().isOk());  // rank 1 does not check itself
}

TEST(ShmTransport, EnvironmentOverridesChunkAndSlots) {
  ::setenv("STRATA_SHM_CHUNK_BYTES", "8K", 1);
  ::setenv("STRATA_SHM_SLOTS", "5", 1);
  auto set = makeTransports(2, smallFifo(4096, 4));
  ::unsetenv("STRATA_SHM_CHUNK_BYTES");
  ::unsetenv("STRATA_SHM_SLOTS");
  ASSERT_TRUE(set.allOk()) << set.statuses[0].message();
  auto* shm = dynamic_cast<ShmTransport*>(set.transports[0].get());
  ASSERT_NE(shm, nullptr);
  EXPECT_EQ(shm->chunkBytes(), 8192u);
  EXPECT_EQ(shm->slots(), 5);

  ::setenv("STRATA_SHM_SLOTS", "lots", 1);
  auto bad = makeTransports(1, smallFifo());
  ::unsetenv("STRATA_SHM_SLOTS");
  EXPECT_EQ(bad.statuses[0].code(), strataInvalidArgument);
  EXPECT_NE(bad.statuses[0].message().find("STRATA_SHM_SLOTS"), std::string::npos);
}

// Ranks as real processes: the child maps the parent's segment and the parent the child's; data
// crosses both ways; then the child is SIGKILLed and the parent's checkPeers reports it.
TEST(ShmTransport, TwoProcessesExchangeAndTheSurvivorSeesTheKill) {
  constexpr size_t kBytes = 300000;
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  const int parentPid = static_cast<int>(getpid());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  std::vector<PeerInfo> peers = sameHostPeers(2);
  peers[0].pid = parentPid;
  peers[1].pid = child == 0 ? static_cast<int>(getpid()) : static_cast<int>(child);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(fds[0]);
    SocketPairBootstrap bs(1, fds[1]);
    auto t = createShmTransport(bs, peers, smallFifo(8192, 4));
    if (!t.isOk()) ::_exit(2);
    auto msg = receiveMessage(*t.value(), t.value()->endpoint(0), kBytes);
    for (auto& b : msg) b = static_cast<std::byte>(static_cast<unsigned>(b) + 1);
    if (!sendMessage(*t.value(), t.value()->endpoint(0), msg)) ::_exit(3);
    for (;;) ::pause();  // stays alive until the parent kills it
  }
  ::close(fds[1]);
  SocketPairBootstrap bs(0, fds[0]);
  auto t = createShmTransport(bs, peers, smallFifo(8192, 4));
  ::close(fds[0]);
  ASSERT_TRUE(t.isOk()) << t.status().message();
  Transport& transport = *t.value();
  auto msg = makeMessage(0, 1, kBytes);
  EXPECT_TRUE(sendMessage(transport, transport.endpoint(1), msg));
  auto echo = receiveMessage(transport, transport.endpoint(1), kBytes);
  ASSERT_EQ(echo.size(), kBytes);
  for (auto& b : msg) b = static_cast<std::byte>(static_cast<unsigned>(b) + 1);
  EXPECT_TRUE(echo == msg);
  EXPECT_TRUE(transport.checkPeers().isOk());

  ::kill(child, SIGKILL);
  Status s;
  auto start = Clock::now();
  while ((s = transport.checkPeers()).isOk() && Clock::now() - start < kHangGuard)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(s.code(), strataRemoteError);
  EXPECT_NE(s.message().find("rank 1 (pid " + std::to_string(child) + ") exited"),
            std::string::npos)
      << s.message();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exit " << status;
}

}  // namespace
}  // namespace strata
