// The simulated HCCS mesh (docs/topology.md): ranks are threads of one process that move real
// payload through in-memory FIFOs, while each rank's RankTimeline advances a virtual clock from
// the topology's link model. The executor announces every phase in program order (the
// virtual-time hooks of transport.h); each message carries its sender's stamp, and the receiver
// charges its ingress in posting order when the phase ends, so the simulated times are the same
// on every run whatever the threads did.
#pragma once

#include <memory>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "base/status.h"
#include "topology/topology.h"
#include "transports/transport.h"

namespace strata {

// Chunk size of the sim's FIFOs; timing-only planning uses the same so its plans are identical.
constexpr size_t kSimChunkBytes = 128 * 1024;

struct SimOptions {
  std::shared_ptr<const Topology> topology;  // required; its rank count must equal bs.size()
};

// Connects this rank to every rank of the simulated fabric. Collective over bs; every rank must
// live in this process (strataCommInitAll), otherwise InvalidArgument names the two processes.
Result<std::unique_ptr<Transport>> createSimTransport(Bootstrap& bs,
                                                      const std::vector<PeerInfo>& peers,
                                                      const SimOptions& opts);

}  // namespace strata
