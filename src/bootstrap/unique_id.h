// The TCP bootstrap's strataUniqueId: where the root listens and the secret every connection
// must prove. Layout of the 128 bytes (little-endian):
//   0  magic "STID"        4  id version (u16)     6  flags (u16, bit 0: rank 0 hosts the root)
//   8  family (4 or 6)    10  port (u16)          12  address (16 bytes; IPv4 uses the first 4)
//  28  secret (16 bytes)  44  zero
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "base/status.h"
#include "strata/strata.h"

namespace strata {

using BootstrapSecret = std::array<uint8_t, 16>;

// An IPv4 or IPv6 socket address without the sockaddr baggage.
struct SockAddr {
  int family = 4;                  // 4 or 6
  std::array<uint8_t, 16> addr{};  // network byte order; IPv4 in addr[0..3]
  uint16_t port = 0;

  // "1.2.3.4:5" or "[::1]:5".
  std::string toString() const;
  // The address without the port.
  std::string hostString() const;
  bool isWildcard() const;
};

// From a struct sockaddr holding a sockaddr_in or sockaddr_in6.
SockAddr sockAddrFromNative(const void* sockaddr);

// The decoded content of a TCP bootstrap id.
struct UniqueIdFields {
  uint16_t version = 0;
  bool rankZeroHosts = false;  // rank 0 starts the root on `root` when it connects
  SockAddr root;
  BootstrapSecret secret{};
};

inline constexpr uint16_t kUniqueIdVersion = 1;

strataUniqueId encodeUniqueId(const UniqueIdFields& fields);
// InvalidArgument when the bytes are not a Strata TCP id (bad magic, version, family, port).
Result<UniqueIdFields> decodeUniqueId(const strataUniqueId& id);

// 128 random bits from the kernel's generator.
BootstrapSecret randomSecret();

// Splits "host:port", "[v6]:port" into host and port (1..65535). Does not resolve.
Result<std::pair<std::string, uint16_t>> splitHostPort(const std::string& hostPort);
// Resolves "host:port" (IPv4 literal, hostname, or [v6]:port), preferring IPv4.
Result<SockAddr> resolveHostPort(const std::string& hostPort);

// The address a root listens on: the first UP interface whose name matches
// STRATA_SOCKET_IFNAME (comma-separated prefixes; "=name" matches exactly, a leading "^"
// excludes), IPv4 preferred; by default the first UP non-loopback, non-docker IPv4 interface,
// else 127.0.0.1. The port is 0.
Result<SockAddr> chooseListenAddress();

// strataGetUniqueId. With STRATA_COMM_ID=host:port set, builds the id from it (rank 0 will host
// the root there; the secret comes from STRATA_COMM_SECRET or the job, see launch_env.h), so
// every process computes the same id. Otherwise starts a root listener in this process on
// chooseListenAddress() with an ephemeral port and a random secret.
Result<strataUniqueId> createUniqueId();

// Starts a root in this process on chooseListenAddress() with an ephemeral port and `secret`;
// the id names it.
Result<strataUniqueId> hostRootHere(const BootstrapSecret& secret);

// The same on `where` (its port ignored: an ephemeral one) with a new random secret: the root a
// split or shrunk communicator's ranks meet at.
Result<strataUniqueId> hostFreshRootAt(SockAddr where);

// The id every rank computes alike from "host:port" and a secret; flagged "rank 0 hosts the
// root".
Result<strataUniqueId> uniqueIdFromAddress(const std::string& hostPort,
                                           const std::array<uint8_t, 16>& secret);

}  // namespace strata
