#include "transports/registry.h"

#include <algorithm>

#include "bootstrap/subgroup_bootstrap.h"
#include "base/logging.h"
#include "base/rank_list.h"
#include "transports/routed_transport.h"
#include "transports/shm/shm_transport.h"
#include "transports/tagged_transport.h"
#ifdef STRATA_HAVE_UCX
#include "transports/ucx/ucx_transport.h"
#endif
#ifdef STRATA_HAVE_OFI
#include "transports/ofi/ofi_transport.h"
#endif
#include "transports/sim/sim_transport.h"

namespace strata {
namespace {

using Factory = Result<std::unique_ptr<Transport>> (*)(Bootstrap&, const std::vector<PeerInfo>&,
                                                       const TransportOptions&);

struct Entry {
  const char* name;
  Factory connect;
};

Result<std::unique_ptr<Transport>> connectShm(Bootstrap& bs, const std::vector<PeerInfo>& peers,
                                              const TransportOptions& opts) {
  ShmOptions shm;
  shm.timeoutMs = opts.timeoutMs;
  shm.abort = opts.abort;
  return createShmTransport(bs, peers, shm);
}

Result<std::unique_ptr<Transport>> connectSim(Bootstrap& bs, const std::vector<PeerInfo>& peers,
                                              const TransportOptions& opts) {
  SimOptions sim;
  sim.topology = opts.topology;
  return createSimTransport(bs, peers, sim);
}

const Entry kTransports[] = {
    {"shm", connectShm},
    {"sim", connectSim},
};

// Network transports, tried in this order between hosts when none is named.
using NetworkFactory = Result<std::unique_ptr<Transport>> (*)(Bootstrap&,
                                                              const std::vector<PeerInfo>&,
                                                              const NetOptions&, bool*);
struct NetworkEntry {
  const char* name;
  NetworkFactory connect;
};

const std::vector<NetworkEntry>& networks() {
  static const std::vector<NetworkEntry> all = {
#ifdef STRATA_HAVE_UCX
      {"ucx", createUcxTransport},
#endif
#ifdef STRATA_HAVE_OFI
      {"ofi", createOfiTransport},
#endif
  };
  return all;
}

const NetworkEntry* findNetwork(const std::string& name) {
  for (const NetworkEntry& e : networks())
    if (name == e.name) return &e;
  return nullptr;
}

// "<network>-all" puts every pair of ranks on the network, this rank itself included.
constexpr std::string_view kAllSuffix = "-all";

Status notBuilt(const std::string& want) {
  return makeError(strataInvalidArgument,
                   "transport '%s' was asked for but is not built into this library (built: %s)",
                   want.c_str(), builtTransports().c_str());
}

// Every rank must ask for the same transport, or they would set up different ones.
Status checkSameRequest(Bootstrap& bs, const std::string& want) {
  auto all = bs.allgather(want);
  if (!all.isOk()) return all.status().context("choosing the transport");
  for (int r = 0; r < bs.size(); ++r) {
    const std::string& other = all.value()[static_cast<size_t>(r)];
    if (other != want)
      return makeError(strataInvalidArgument,
                       "rank %d asks for transport '%s' but rank %d asks for '%s' (set "
                       "STRATA_TRANSPORT or strataConfig_t.transport alike on every rank)",
                       bs.rank(), want.empty() ? "(default)" : want.c_str(), r,
                       other.empty() ? "(default)" : other.c_str());
  }
  return Status::ok();
}

// Shared memory among the ranks of this rank's host, run on every host at once.
Result<std::unique_ptr<Transport>> connectHostShm(Bootstrap& bs, const std::vector<PeerInfo>& peers,
                                                  const std::vector<int>& localRanks,
                                                  const TransportOptions& opts) {
  SubgroupBootstrap host(bs, localRanks);
  std::vector<PeerInfo> local;
  for (int r : localRanks) local.push_back(peers[static_cast<size_t>(r)]);
  return connectShm(host, local, opts);
}

// The named network, or the first built one that opens on every rank.
Result<std::unique_ptr<Transport>> connectNetwork(Bootstrap& bs, const std::vector<PeerInfo>& peers,
                                                  const std::string& named,
                                                  std::vector<char> connect) {
  NetOptions base;
  base.connect = std::move(connect);
  STRATA_ASSIGN(NetOptions net, resolveNetOptions(base));
  if (!named.empty()) return findNetwork(named)->connect(bs, peers, net, nullptr);
  Status last;
  for (const NetworkEntry& e : networks()) {
    bool unavailable = false;
    auto t = e.connect(bs, peers, net, &unavailable);
    if (t.isOk() || !unavailable) return t;
    STRATA_WARN("transport %s is unavailable, trying the next network: %s", e.name,
                t.status().message().c_str());
    last = t.status();
  }
  return last;
}

// The INFO line, once per communicator (rank 0 writes it), saying which transport connects each
// pair of ranks. `local` serves pairs on one host and `network` pairs on different hosts; an
// empty `network` means `local` serves every pair.
void reportPairs(const Bootstrap& bs, const std::vector<PeerInfo>& peers, const char* local,
                 const char* network) {
  if (bs.rank() != 0 || !logEnabled(LogLevel::kInfo, Subsys::kInit)) return;
  if (!network) {
    STRATA_INFO(Subsys::kInit, "transport: %s between every pair of the %d ranks", local,
                bs.size());
    return;
  }
  constexpr size_t kHostsShown = 8;
  std::vector<std::string> hosts;
  std::vector<std::vector<int>> ranksOf;
  for (const PeerInfo& p : peers) {
    auto it = std::find(hosts.begin(), hosts.end(), p.hostId);
    if (it == hosts.end()) {
      hosts.push_back(p.hostId);
      ranksOf.emplace_back();
      it = hosts.end() - 1;
    }
    ranksOf[static_cast<size_t>(it - hosts.begin())].push_back(p.rank);
  }
  std::string where;
  for (size_t h = 0; h < hosts.size() && h < kHostsShown; ++h)
    where += (h ? "; " : "") + hosts[h] + ": ranks " + formatRankList(ranksOf[h]);
  if (hosts.size() > kHostsShown) where += format("; %zu more hosts", hosts.size() - kHostsShown);
  STRATA_INFO(Subsys::kInit,
              "transport: %s between ranks on one host, %s between hosts (%zu hosts: %s)", local,
              network, hosts.size(), where.c_str());
}

// Logs the pairs a transport that serves every pair alone connects, and passes it on.
Result<std::unique_ptr<Transport>> reported(const Bootstrap& bs, const std::vector<PeerInfo>& peers,
                                            Result<std::unique_ptr<Transport>> t) {
  if (t.isOk()) reportPairs(bs, peers, t.value()->name(), nullptr);
  return t;
}

}  // namespace

std::string builtTransports() {
  std::string out;
  for (const Entry& e : kTransports) out += (out.empty() ? "" : ", ") + std::string(e.name);
  for (const NetworkEntry& e : networks()) out += ", " + std::string(e.name);
  return out;
}

Result<std::unique_ptr<Transport>> connectTransport(Bootstrap& bs,
                                                    const std::vector<PeerInfo>& peers,
                                                    const TransportOptions& opts) {
  const std::string& want = opts.name;
  STRATA_CHECK(checkSameRequest(bs, want));
  for (const Entry& e : kTransports)
    if (want == e.name) return reported(bs, peers, e.connect(bs, peers, opts));

  // A network transport (by name or by default) between hosts, shared memory within them.
  const bool all =
      want.size() > kAllSuffix.size() &&
      want.compare(want.size() - kAllSuffix.size(), kAllSuffix.size(), kAllSuffix) == 0;
  const std::string network = all ? want.substr(0, want.size() - kAllSuffix.size()) : want;
  if (!network.empty() && findNetwork(network) == nullptr) return notBuilt(want);
  const int me = bs.rank();
  const int n = bs.size();
  if (peers.size() != static_cast<size_t>(n))
    return makeError(strataInternalError, "%zu peer infos for %d ranks", peers.size(), n);
  if (all)
    return reported(
        bs, peers,
        connectNetwork(bs, peers, network, std::vector<char>(static_cast<size_t>(n), 1)));

  const std::string& host = peers[static_cast<size_t>(me)].hostId;
  std::vector<int> localRanks;
  std::vector<char> remote(static_cast<size_t>(n), 0);
  for (int r = 0; r < n; ++r) {
    if (peers[static_cast<size_t>(r)].hostId == host)
      localRanks.push_back(r);
    else
      remote[static_cast<size_t>(r)] = 1;
  }
  // Host identities are the same on every rank, so every rank sees the same picture.
  int elsewhere = -1;  // the first rank not on rank 0's host
  for (int r = 0; r < n && elsewhere < 0; ++r)
    if (peers[static_cast<size_t>(r)].hostId != peers.front().hostId) elsewhere = r;
  if (elsewhere < 0) {
    if (!network.empty())
      STRATA_INFO(Subsys::kInit, "all %d ranks share host %s: shared memory only, %s unused", n,
                  host.c_str(), network.c_str());
    return reported(bs, peers, connectShm(bs, peers, opts));
  }
  if (networks().empty())
    return makeError(strataInvalidArgument,
                     "ranks are on several hosts (rank 0 on %s, rank %d on %s) but no network "
                     "transport is built into this library (built: %s)",
                     peers.front().hostId.c_str(), elsewhere,
                     peers[static_cast<size_t>(elsewhere)].hostId.c_str(),
                     builtTransports().c_str());
  STRATA_ASSIGN(std::unique_ptr<Transport> local, connectHostShm(bs, peers, localRanks, opts));
  STRATA_ASSIGN(std::unique_ptr<Transport> net, connectNetwork(bs, peers, network, remote));
  reportPairs(bs, peers, local->name(), net->name());
  return std::unique_ptr<Transport>(
      std::make_unique<RoutedTransport>(std::move(local), localRanks, std::move(net), n));
}

}  // namespace strata
