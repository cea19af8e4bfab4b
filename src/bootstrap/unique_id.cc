#include "bootstrap/unique_id.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstdlib>
#include <cstring>
#include <random>

#include "bootstrap/launch_env.h"
#include "bootstrap/tcp_root.h"
#include "base/logging.h"

namespace strata {
namespace {

constexpr uint8_t kIdMagic[4] = {'S', 'T', 'I', 'D'};
constexpr uint16_t kFlagRankZeroHosts = 1;

void store16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>(v >> 8);
}
uint16_t load16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | static_cast<uint8_t>(p[1]) << 8);
}

}  // namespace

SockAddr sockAddrFromNative(const void* raw) {
  const auto* sa = static_cast<const sockaddr*>(raw);
  SockAddr a;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    a.family = 4;
    std::memcpy(a.addr.data(), &in->sin_addr, 4);
    a.port = ntohs(in->sin_port);
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    a.family = 6;
    std::memcpy(a.addr.data(), &in6->sin6_addr, 16);
    a.port = ntohs(in6->sin6_port);
  }
  return a;
}

namespace {

// One entry of STRATA_SOCKET_IFNAME: "eth" (prefix), "=eth0" (exact).
bool nameMatches(const std::string& name, const std::string& pattern) {
  if (!pattern.empty() && pattern[0] == '=') return name == pattern.substr(1);
  return name.compare(0, pattern.size(), pattern) == 0;
}

// NCCL's interface list syntax: comma-separated prefixes, optionally all negated by '^'.
bool ifnameSelected(const std::string& name, const std::string& spec) {
  bool exclude = !spec.empty() && spec[0] == '^';
  std::string list = exclude ? spec.substr(1) : spec;
  bool matched = false;
  size_t pos = 0;
  while (pos <= list.size() && !matched) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    std::string pat = list.substr(pos, end - pos);
    if (!pat.empty() && nameMatches(name, pat)) matched = true;
    pos = end + 1;
  }
  return exclude ? !matched : matched;
}

bool isLinkLocalV6(const sockaddr* sa) {
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  return IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr);
}

}  // namespace

std::string SockAddr::hostString() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof(buf));
  return buf;
}

std::string SockAddr::toString() const {
  std::string host = hostString();
  if (family == 6) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

bool SockAddr::isWildcard() const {
  size_t n = family == 6 ? 16 : 4;
  for (size_t i = 0; i < n; ++i)
    if (addr[i] != 0) return false;
  return true;
}

strataUniqueId encodeUniqueId(const UniqueIdFields& f) {
  strataUniqueId id;
  std::memset(&id, 0, sizeof(id));
  char* p = id.internal;
  std::memcpy(p, kIdMagic, 4);
  store16(p + 4, f.version == 0 ? kUniqueIdVersion : f.version);
  store16(p + 6, f.rankZeroHosts ? kFlagRankZeroHosts : 0);
  p[8] = static_cast<char>(f.root.family);
  store16(p + 10, f.root.port);
  std::memcpy(p + 12, f.root.addr.data(), 16);
  std::memcpy(p + 28, f.secret.data(), 16);
  return id;
}

Result<UniqueIdFields> decodeUniqueId(const strataUniqueId& id) {
  const char* p = id.internal;
  if (std::memcmp(p, kIdMagic, 4) != 0)
    return makeError(strataInvalidArgument, "strataUniqueId is not a Strata id (bad magic)");
  UniqueIdFields f;
  f.version = load16(p + 4);
  if (f.version != kUniqueIdVersion)
    return makeError(strataInvalidArgument,
                     "strataUniqueId has version %u but this library reads version %u",
                     static_cast<unsigned>(f.version), static_cast<unsigned>(kUniqueIdVersion));
  f.rankZeroHosts = (load16(p + 6) & kFlagRankZeroHosts) != 0;
  f.root.family = static_cast<uint8_t>(p[8]);
  if (f.root.family != 4 && f.root.family != 6)
    return makeError(strataInvalidArgument, "strataUniqueId names address family %d",
                     f.root.family);
  f.root.port = load16(p + 10);
  if (f.root.port == 0) return makeError(strataInvalidArgument, "strataUniqueId names port 0");
  std::memcpy(f.root.addr.data(), p + 12, 16);
  std::memcpy(f.secret.data(), p + 28, 16);
  return f;
}

BootstrapSecret randomSecret() {
  std::random_device rd;  // getrandom()/urandom on Linux
  BootstrapSecret s{};
  for (size_t i = 0; i < s.size(); i += 4) {
    uint32_t v = rd();
    std::memcpy(s.data() + i, &v, 4);
  }
  return s;
}

Result<std::pair<std::string, uint16_t>> splitHostPort(const std::string& hostPort) {
  std::string host, port;
  if (!hostPort.empty() && hostPort[0] == '[') {
    size_t close = hostPort.find(']');
    if (close == std::string::npos || close + 1 >= hostPort.size() || hostPort[close + 1] != ':')
      return makeError(strataInvalidArgument, "address \"%s\" is not [ipv6]:port",
                       hostPort.c_str());
    host = hostPort.substr(1, close - 1);
    port = hostPort.substr(close + 2);
  } else {
    size_t colon = hostPort.rfind(':');
    if (colon == std::string::npos)
      return makeError(strataInvalidArgument, "address \"%s\" is not host:port", hostPort.c_str());
    host = hostPort.substr(0, colon);
    port = hostPort.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return makeError(strataInvalidArgument,
                       "address \"%s\": write IPv6 addresses in brackets, [addr]:port",
                       hostPort.c_str());
  }
  if (host.empty())
    return makeError(strataInvalidArgument, "address \"%s\" has no host", hostPort.c_str());
  char* end = nullptr;
  long value = port.empty() ? -1 : std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || value < 1 || value > 65535)
    return makeError(strataInvalidArgument, "address \"%s\" has no valid port (1-65535)",
                     hostPort.c_str());
  return std::make_pair(host, static_cast<uint16_t>(value));
}

Result<SockAddr> resolveHostPort(const std::string& hostPort) {
  STRATA_ASSIGN(auto hp, splitHostPort(hostPort));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(hp.first.c_str(), nullptr, &hints, &res);
  if (rc != 0)
    return makeError(strataInvalidArgument, "cannot resolve \"%s\": %s", hp.first.c_str(),
                     gai_strerror(rc));
  const addrinfo* pick = nullptr;
  for (const addrinfo* ai = res; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      pick = ai;
      break;
    }
    if (ai->ai_family == AF_INET6 && !pick) pick = ai;
  }
  if (!pick) {
    freeaddrinfo(res);
    return makeError(strataInvalidArgument, "\"%s\" has no IPv4 or IPv6 address",
                     hp.first.c_str());
  }
  SockAddr a = sockAddrFromNative(pick->ai_addr);
  a.port = hp.second;
  freeaddrinfo(res);
  return a;
}

Result<SockAddr> chooseListenAddress() {
  const char* env = std::getenv("STRATA_SOCKET_IFNAME");
  std::string spec = env && *env ? env : "";
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0)
    return makeError(strataSystemError, "getifaddrs failed: %s", std::strerror(errno));
  const ifaddrs* v4 = nullptr;
  const ifaddrs* v6 = nullptr;
  for (const ifaddrs* ifa = list; ifa; ifa = ifa->ifa_next) {
    if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP)) continue;
    int fam = ifa->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6) continue;
    std::string name = ifa->ifa_name;
    if (spec.empty()) {
      if (fam != AF_INET || (ifa->ifa_flags & IFF_LOOPBACK) || name.rfind("docker", 0) == 0)
        continue;
    } else if (!ifnameSelected(name, spec)) {
      continue;
    }
    if (fam == AF_INET && !v4) v4 = ifa;
    if (fam == AF_INET6 && !v6 && !isLinkLocalV6(ifa->ifa_addr)) v6 = ifa;
  }
  const ifaddrs* pick = v4 ? v4 : v6;
  SockAddr a;
  std::string ifname;
  if (pick) {
    a = sockAddrFromNative(pick->ifa_addr);
    ifname = pick->ifa_name;
  }
  freeifaddrs(list);
  a.port = 0;
  if (!pick) {
    if (!spec.empty())
      return makeError(strataInvalidArgument,
                       "STRATA_SOCKET_IFNAME=%s matches no UP interface with an IPv4 or "
                       "routable IPv6 address",
                       spec.c_str());
    a.family = 4;
    a.addr = {127, 0, 0, 1};
    ifname = "lo (no other UP IPv4 interface)";
  }
  STRATA_INFO(Subsys::kBootstrap, "bootstrap: using interface %s address %s", ifname.c_str(),
              a.hostString().c_str());
  return a;
}

Result<strataUniqueId> uniqueIdFromAddress(const std::string& hostPort,
                                           const std::array<uint8_t, 16>& secret) {
  auto addr = resolveHostPort(hostPort);
  if (!addr.isOk()) return addr.status();
  UniqueIdFields f;
  f.version = kUniqueIdVersion;
  f.rankZeroHosts = true;
  f.root = addr.value();
  f.secret = secret;
  return encodeUniqueId(f);
}

Result<strataUniqueId> createUniqueId() {
  const char* commId = std::getenv("STRATA_COMM_ID");
  if (commId && *commId) {
    auto secret = launchSecret(commId);
    if (!secret.isOk()) return secret.status();
    auto id = uniqueIdFromAddress(commId, secret.value());
    if (!id.isOk()) return Status(id.status()).context("STRATA_COMM_ID");
    STRATA_INFO(Subsys::kBootstrap, "bootstrap: id names STRATA_COMM_ID=%s; rank 0 hosts the root",
                commId);
    return id;
  }
  return hostRootHere(randomSecret());
}

namespace {

Result<strataUniqueId> hostRoot(SockAddr where, const BootstrapSecret& secret) {
  TcpRootOptions opts;
  opts.bind = where;
  opts.bind.port = 0;
  opts.secret = secret;
  STRATA_ASSIGN(SockAddr bound, startTcpRoot(opts));
  UniqueIdFields f;
  f.version = kUniqueIdVersion;
  f.root = bound;
  f.secret = opts.secret;
  return encodeUniqueId(f);
}

}  // namespace

Result<strataUniqueId> hostRootHere(const BootstrapSecret& secret) {
  STRATA_ASSIGN(SockAddr where, chooseListenAddress());
  return hostRoot(where, secret);
}

Result<strataUniqueId> hostFreshRootAt(SockAddr where) { return hostRoot(where, randomSecret()); }

}  // namespace strata
