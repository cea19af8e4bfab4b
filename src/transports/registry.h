// Which transport serves a communicator: the one named in the config (STRATA_TRANSPORT), or the
// default for where the peers are. Each transport is one line in registry.cc.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "base/deadline.h"
#include "base/status.h"
#include "transports/transport.h"

namespace strata {

struct Topology;

struct TransportOptions {
  std::string name;      // requested transport; empty chooses by peer location
  std::string topoFile;  // topology file or preset name, for transports that model one
  std::shared_ptr<const Topology> topology;  // the communicator's topology (the sim models it)
  long timeoutMs = 0;
  const AbortFlag* abort = nullptr;
};

// Connects this rank (bs.rank()) to every peer. Collective over bs.
Result<std::unique_ptr<Transport>> connectTransport(Bootstrap& bs,
                                                    const std::vector<PeerInfo>& peers,
                                                    const TransportOptions& opts);

// Names of the transports built into this library, comma separated.
std::string builtTransports();

}  // namespace strata
