// The network transports (UCX, libfabric) and the transport registry's routing, with ranks as
// threads of this process over the in-process bootstrap and the networks on loopback. Hosts are
// told apart by the host ids handed to the registry, so shared memory and the network meet in
// one process here; tests/netns runs the same across network-namespace hosts.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bootstrap/inprocess_bootstrap.h"
#include "transports/registry.h"
#include "transports/transport.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kHangGuard{20};

struct Network {
  const char* name;
  std::vector<std::pair<const char*, const char*>> env;  // keeps the traffic on loopback
};

void PrintTo(const Network& n, std::ostream* os) { *os << n.name; }

// libfabric's shm provider is left to the process tests (tests/netns): endpoints of one process
// share their mappings of each other, so one rank closing its endpoint while another still runs
// is not something it supports, and ranks as threads do exactly that.
const Network kNetworks[] = {
    {"ucx", {{"UCX_TLS", "tcp"}, {"UCX_NET_DEVICES", "lo"}}},
    {"ofi", {{"FI_PROVIDER", "tcp"}, {"FI_TCP_IFACE", "lo"}}},
};

bool built(const std::string& name) {
  const std::string all = ", " + builtTransports() + ",";
  return all.find(", " + name + ",") != std::string::npos;
}

std::vector<PeerInfo> peersOnHosts(const std::vector<std::string>& hosts) {
  std::vector<PeerInfo> peers(hosts.size());
  for (size_t r = 0; r < hosts.size(); ++r) {
    peers[r].rank = static_cast<int>(r);
    peers[r].pid = static_cast<int>(getpid());
    peers[r].hostId = hosts[r];
  }
  return peers;
}

struct TransportSet {
  std::vector<std::unique_ptr<Bootstrap>> bootstraps;
  std::vector<std::unique_ptr<Transport>> transports;
  std::vector<Status> statuses;
  void expectAllOk() const {
    for (size_t r = 0; r < statuses.size(); ++r)
      ASSERT_TRUE(statuses[r].isOk()) << "rank " << r << ": " << statuses[r].message();
  }
};

// connectTransport on one thread per rank; nameFor(r) is rank r's requested transport.
TransportSet connectAll(const std::vector<PeerInfo>& peers,
                        const std::function<std::string(int)>& nameFor) {
  const int n = static_cast<int>(peers.size());
  BootstrapOptions bopts;
  bopts.timeoutMs = 20000;
  TransportSet set;
  set.bootstraps = createInProcessBootstraps(n, bopts);
  set.transports.resize(static_cast<size_t>(n));
  set.statuses.resize(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      TransportOptions opts;
      opts.name = nameFor(r);
      opts.timeoutMs = 20000;
      auto t = connectTransport(*set.bootstraps[static_cast<size_t>(r)], peers, opts);
      set.statuses[static_cast<size_t>(r)] = t.status();
      if (t.isOk()) set.transports[static_cast<size_t>(r)] = std::move(t.value());
    });
  }
  for (auto& t : threads) t.join();
  return set;
}

std::byte pattern(int src, int dst, size_t i) {
  return static_cast<std::byte>((src * 31 + dst * 7 + i * 13 + (i >> 9)) & 0xff);
}

// Every rank sends a message of sizeFor(src, dst) bytes to every rank (itself included) and
// checks what it receives: the bytes, their order, the message size in every chunk and, when
// maxChunk is set, the chunk size. Ranks progress all their endpoints together, as the executor
// does.
void exchangeAll(TransportSet& set, const std::function<size_t(int, int)>& sizeFor,
                 size_t maxChunk = 0) {
  const int n = static_cast<int>(set.transports.size());
  std::vector<std::thread> threads;
  std::vector<std::string> failures(static_cast<size_t>(n));
  for (int me = 0; me < n; ++me) {
    threads.emplace_back([&, me] {
      Transport& t = *set.transports[static_cast<size_t>(me)];
      std::vector<std::vector<std::byte>> out(static_cast<size_t>(n));
      std::vector<size_t> sent(static_cast<size_t>(n), 0), got(static_cast<size_t>(n), 0);
      for (int p = 0; p < n; ++p) {
        out[static_cast<size_t>(p)].resize(sizeFor(me, p));
        for (size_t i = 0; i < out[static_cast<size_t>(p)].size(); ++i)
          out[static_cast<size_t>(p)][i] = pattern(me, p, i);
      }
      std::string& fail = failures[static_cast<size_t>(me)];
      const auto start = Clock::now();
      bool done = false;
      while (!done && fail.empty()) {
        if (Clock::now() - start > kHangGuard) {
          fail = "hung";
          break;
        }
        done = true;
        for (int p = 0; p < n; ++p) {
          const auto& msg = out[static_cast<size_t>(p)];
          size_t& s = sent[static_cast<size_t>(p)];
          if (s < msg.size()) s += t.endpoint(p).push(msg.data() + s, msg.size() - s, msg.size(), 0);
          done = done && s == msg.size();
          const size_t want = sizeFor(p, me);
          size_t& g = got[static_cast<size_t>(p)];
          for (RecvChunk c = t.endpoint(p).peek(); !c.empty() && fail.empty();
               c = t.endpoint(p).peek()) {
            if (c.msgBytes != want || g + c.bytes > want || (maxChunk && c.bytes > maxChunk))
              fail = "bad chunk from rank " + std::to_string(p);
            for (size_t i = 0; i < c.bytes && fail.empty(); ++i)
              if (c.data[i] != pattern(p, me, g + i))
                fail = "byte " + std::to_string(g + i) + " from rank " + std::to_string(p);
            g += c.bytes;
            t.endpoint(p).pop();
          }
          done = done && g == want;
        }
        Status s = t.checkPeers();
        if (!s.isOk()) fail = s.message();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int r = 0; r < n; ++r)
    EXPECT_TRUE(failures[static_cast<size_t>(r)].empty())
        << "rank " << r << ": " << failures[static_cast<size_t>(r)];
}

class NetTransport : public ::testing::TestWithParam<Network> {
 protected:
  void SetUp() override {
    if (!built(GetParam().name))
      GTEST_SKIP() << GetParam().name << " is not built (built: " << builtTransports() << ")";
    for (const auto& [key, value] : GetParam().env) setenv(key, value, 1);
    // Small windows, so messages span many chunks and run into the credit limit.
    setenv("STRATA_NET_CHUNK_BYTES", "4096", 1);
    setenv("STRATA_NET_SLOTS", "4", 1);
  }
  void TearDown() override {
    for (const auto& [key, value] : GetParam().env) unsetenv(key);
    unsetenv("STRATA_NET_CHUNK_BYTES");
    unsetenv("STRATA_NET_SLOTS");
  }
};

TEST_P(NetTransport, EveryPairIncludingSelfOverTheNetworkArrivesInOrder) {
  const std::string name = std::string(GetParam().name) + "-all";
  auto set = connectAll(peersOnHosts({"h", "h", "h"}), [&](int) { return name; });
  set.expectAllOk();
  EXPECT_STREQ(set.transports[0]->name(), GetParam().name);
  EXPECT_EQ(set.transports[0]->chunkBytes(), 4096u);
  exchangeAll(
      set, [](int src, int dst) { return size_t{4096} * 9 + 17 * (src + 3 * dst); }, 4096);
  // Zero-byte and one-chunk messages in the same FIFOs afterwards.
  exchangeAll(set, [](int src, int) { return src == 1 ? size_t{0} : size_t{100}; });
}

TEST_P(NetTransport, SharedMemoryInsideAHostAndTheNetworkBetweenHosts) {
  const std::string name = GetParam().name;
  auto set =
      connectAll(peersOnHosts({"hostA", "hostA", "hostB", "hostB"}), [&](int) { return name; });
  set.expectAllOk();
  for (const auto& t : set.transports) EXPECT_EQ(std::string(t->name()), "shm+" + name);
  EXPECT_GT(set.transports[0]->interHostCost().beta, 0.0);
  exchangeAll(set, [](int src, int dst) { return size_t{50000} + 1000 * src + dst; });
}

// Polls t's peer check until it reports a failure (or the hang guard runs out).
Status firstPeerFailure(Transport& t) {
  Status s;
  const auto start = Clock::now();
  while (s.isOk() && Clock::now() - start < kHangGuard) {
    s = t.checkPeers();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return s;
}

TEST_P(NetTransport, AnAbortedRankIsReportedToItsPeers) {
  const std::string name = std::string(GetParam().name) + "-all";
  auto set = connectAll(peersOnHosts({"h", "h"}), [&](int) { return name; });
  set.expectAllOk();
  EXPECT_TRUE(set.transports[1]->checkPeers().isOk());
  set.transports[0]->markAborted();
  const Status s = firstPeerFailure(*set.transports[1]);
  EXPECT_EQ(s.code(), strataRemoteError) << s.message();
  EXPECT_NE(s.message().find("rank 0"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("aborted"), std::string::npos) << s.message();
}

TEST_P(NetTransport, ADestroyedRankIsReportedToItsPeers) {
  const std::string name = std::string(GetParam().name) + "-all";
  auto set = connectAll(peersOnHosts({"h", "h"}), [&](int) { return name; });
  set.expectAllOk();
  // Without an abort notice: rank 1 must notice the connection going away.
  set.transports[0].reset();
  const Status s = firstPeerFailure(*set.transports[1]);
  EXPECT_EQ(s.code(), strataRemoteError) << s.message();
  EXPECT_NE(s.message().find("rank 0"), std::string::npos) << s.message();
}

INSTANTIATE_TEST_SUITE_P(Networks, NetTransport, ::testing::ValuesIn(kNetworks),
                         [](const auto& info) {
                           std::string provider;
                           for (const auto& [k, v] : info.param.env)
                             if (std::string(k) == "FI_PROVIDER") provider = std::string("_") + v;
                           return std::string(info.param.name) + provider;
                         });

TEST(TransportRegistry, AnUnknownNameListsWhatIsBuilt) {
  for (const std::string bad : {"nope", "nope-all"}) {
    auto set = connectAll(peersOnHosts({"h", "h"}), [&](int) { return bad; });
    for (const Status& s : set.statuses) {
      EXPECT_EQ(s.code(), strataInvalidArgument) << s.message();
      EXPECT_NE(s.message().find("'" + bad + "' was asked for but is not built"), std::string::npos)
          << s.message();
      EXPECT_NE(s.message().find("built: shm"), std::string::npos) << s.message();
    }
  }
}

TEST(TransportRegistry, RanksAskingForDifferentTransportsFailAlike) {
  auto set = connectAll(peersOnHosts({"h", "h"}), [](int r) { return r == 0 ? "shm" : ""; });
  for (const Status& s : set.statuses) {
    EXPECT_EQ(s.code(), strataInvalidArgument) << s.message();
    EXPECT_NE(s.message().find("STRATA_TRANSPORT"), std::string::npos) << s.message();
  }
}

TEST(TransportRegistry, OneHostUsesSharedMemoryEvenWhenANetworkIsNamed) {
  for (const char* net : {"ucx", "ofi"}) {
    if (!built(net)) continue;
    auto set = connectAll(peersOnHosts({"h", "h", "h"}), [&](int) { return net; });
    set.expectAllOk();
    for (const auto& t : set.transports) EXPECT_STREQ(t->name(), "shm");
  }
}

}  // namespace
}  // namespace strata
