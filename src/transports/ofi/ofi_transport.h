// The libfabric transport: TaggedTransport (see tagged_transport.h) over an FI_EP_RDM endpoint
// with tagged messages, one completion queue and an address vector. Endpoint names travel
// through the bootstrap. FI_PROVIDER picks the provider as usual ("tcp;ofi_rxm", "shm", ...);
// without it the first provider libfabric offers is used, skipping "shm" (one host only) and
// loopback interfaces when some peer is on another host.
#pragma once

#include <memory>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "base/status.h"
#include "transports/tagged_transport.h"
#include "transports/transport.h"

namespace strata {

// Connects this rank to every rank r with opts.connect[r] set. Collective over bs. When
// libfabric cannot be opened on some rank, every rank fails and *unavailable is set.
Result<std::unique_ptr<Transport>> createOfiTransport(Bootstrap& bs,
                                                      const std::vector<PeerInfo>& peers,
                                                      const NetOptions& opts,
                                                      bool* unavailable = nullptr);

}  // namespace strata
