// Ranks on two "hosts" made of network namespaces (scripts/netns-hosts), two ranks each: every
// collective over UCX and over libfabric (shared memory inside a host, the network between the
// hosts), and a rank SIGKILLed mid-AllReduce per transport. Each test brings up its own hosts
// under its own prefix and removes them when it ends; it is skipped only where network
// namespaces cannot be created.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "strata/strata.h"
#include "kill_check.h"
#include "worker_group.h"

namespace strata::mptest {
namespace {

constexpr const char* kWorker = STRATA_MP_WORKER;
constexpr const char* kNetnsHosts = STRATA_NETNS_HOSTS;
constexpr int kHosts = 2;
constexpr int kRanksPerHost = 2;
constexpr int kRanks = kHosts * kRanksPerHost;
// Rank 0 hosts the bootstrap root on host 0; the namespaces are fresh, so the port is free.
constexpr const char* kCommId = "10.213.0.1:29500";
constexpr const char* kSubnet = "10.213.0";
// Every test ends well inside ctest's limit, killing its workers if need be.
constexpr seconds kTestBudget{50};
constexpr const char* kNormalTimeoutMs = "30000";

// Runs netns-hosts with the given prefix; the exit code and the output.
std::pair<int, std::string> netnsHosts(const std::string& prefix, const std::string& args) {
  const std::string cmd = "STRATA_NETNS_PREFIX=" + prefix + " STRATA_NETNS_SUBNET=" + kSubnet +
                          " " + kNetnsHosts + " " + args + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::array<char, 512> buf;
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The namespace hosts of one test, removed (with whatever still runs in them) on destruction.
class NetnsHosts {
 public:
  explicit NetnsHosts(std::string prefix) : prefix_(std::move(prefix)) {}
  ~NetnsHosts() {
    if (up_) netnsHosts(prefix_, "down");
  }
  NetnsHosts(const NetnsHosts&) = delete;
  NetnsHosts& operator=(const NetnsHosts&) = delete;

  // 0 when up; 77 when namespaces cannot be created here; anything else is a failure.
  int up(std::string* output) {
    auto [code, out] = netnsHosts(prefix_, "up " + std::to_string(kHosts));
    *output = out;
    up_ = code == 0;
    if (code != 0 && code != 77) netnsHosts(prefix_, "down");
    return code;
  }
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
  bool up_ = false;
};

#define BRING_UP_OR_SKIP(hosts)                                                             \
  do {                                                                                      \
    std::string out_;                                                                       \
    int code_ = (hosts).up(&out_);                                                          \
    if (code_ == 77) GTEST_SKIP() << "network namespaces cannot be created here: " << out_; \
    ASSERT_EQ(code_, 0) << "netns-hosts up failed:\n" << out_;                              \
  } while (0)

struct Network {
  const char* name;        // STRATA_TRANSPORT
  const char* settingKey;  // the network library's own choice of medium
  const char* settingValue;
};

void PrintTo(const Network& n, std::ostream* os) { *os << n.name; }

const Network kUcx{"ucx", "UCX_TLS", "tcp"};
const Network kOfi{"ofi", "FI_PROVIDER", "tcp"};

// Rank r on host r / kRanksPerHost, started through `netns-hosts exec`, which execs into the
// worker (so the pid the group holds is the worker's own).
void startRanks(WorkerGroup& group, const Network& net, const std::string& prefix,
                const std::string& mode, const char* debugSubsys = "INIT") {
  group.setEnv("STRATA_NETNS_PREFIX", prefix);
  group.setEnv("STRATA_NETNS_SUBNET", kSubnet);
  group.setEnv("STRATA_TRANSPORT", net.name);
  group.setEnv(net.settingKey, net.settingValue);
  group.setEnv("STRATA_DEBUG", "INFO");
  group.setEnv("STRATA_DEBUG_SUBSYS", debugSubsys);
  for (int r = 0; r < kRanks; ++r) {
    ASSERT_TRUE(group.start(r, {"exec", std::to_string(r / kRanksPerHost), kWorker, mode}))
        << group.error();
  }
}

// Each rank used shared memory inside its host and the network to the other host.
void expectRouted(const WorkerGroup& group, const Network& net) {
  const std::string want = std::string("transport shm+") + net.name;
  for (int r = 0; r < kRanks; ++r)
    EXPECT_NE(group.output(r).find(want), std::string::npos)
        << "rank " << r << " did not report '" << want << "':\n"
        << group.allOutput();
}

class NetnsCollectives : public ::testing::TestWithParam<Network> {};

TEST_P(NetnsCollectives, EveryCollectiveOnTwoHostsOfTwoRanks) {
  const Network& net = GetParam();
  NetnsHosts hosts(std::string("stn-") + net.name + "-all");
  BRING_UP_OR_SKIP(hosts);
  WorkerGroup group(kNetnsHosts, kRanks, kCommId, randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", kNormalTimeoutMs);
  startRanks(group, net, hosts.prefix(), "all");
  ASSERT_TRUE(group.waitAll(Clock::now() + kTestBudget)) << "ranks did not finish in time:\n"
                                                         << group.allOutput();
  expectAllSucceeded(group);
  expectRouted(group, net);
}

// The hierarchical (TopoComm) AllReduce, AllGather and ReduceScatter pinned: level 0 over shared
// memory inside each host, level 1 over the network between the hosts; every result checked.
TEST_P(NetnsCollectives, HierarchicalCollectivesOnTwoHostsOfTwoRanks) {
  const Network& net = GetParam();
  NetnsHosts hosts(std::string("stn-") + net.name + "-hier");
  BRING_UP_OR_SKIP(hosts);
  WorkerGroup group(kNetnsHosts, kRanks, kCommId, randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", kNormalTimeoutMs);
  group.setEnv("STRATA_ALGO", "allreduce:@hier#allgather:@hier#reducescatter:@hier");
  startRanks(group, net, hosts.prefix(), "all", "INIT,TUNE");
  ASSERT_TRUE(group.waitAll(Clock::now() + kTestBudget)) << "ranks did not finish in time:\n"
                                                         << group.allOutput();
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_TRUE(exitedWith(group.status(r), 0))
        << "rank " << r << " " << describeWaitStatus(group.status(r)) << "\n"
        << group.allOutput();
    EXPECT_NE(group.output(r).find("hier by tune string"), std::string::npos)
        << "rank " << r << " did not run hier:\n"
        << group.allOutput();
  }
  expectRouted(group, net);
}

// A rank SIGKILLed mid-AllReduce turns into strataRemoteError or strataTimeout on every survivor
// within the timeout plus a margin: its host neighbour sees it through shared memory, the ranks
// of the other host through the network.
TEST_P(NetnsCollectives, SurvivorsOfAKilledRankReturnAnError) {
  const Network& net = GetParam();
  NetnsHosts hosts(std::string("stn-") + net.name + "-kill");
  BRING_UP_OR_SKIP(hosts);
  constexpr int kVictim = 3;  // on host 1; ranks 0 and 1 learn of it over the network
  constexpr milliseconds kTimeout{3000};
  constexpr milliseconds kMargin{2000};
  WorkerGroup group(kNetnsHosts, kRanks, kCommId, randomSecretHex());
  group.setEnv("STRATA_TIMEOUT_MS", std::to_string(kTimeout.count()));
  startRanks(group, net, hosts.prefix(), "allreduce-loop");
  expectSurvivorsFailAfterKill(group, kVictim, Clock::now() + kTestBudget, kTimeout + kMargin);
  expectRouted(group, net);
}

// The networks built into the library.
std::vector<Network> builtNetworks() {
  std::vector<Network> out;
  if (STRATA_NETNS_HAVE_UCX) out.push_back(kUcx);
  if (STRATA_NETNS_HAVE_OFI) out.push_back(kOfi);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Transports, NetnsCollectives, ::testing::ValuesIn(builtNetworks()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace strata::mptest
