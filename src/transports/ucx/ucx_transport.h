// The UCX transport: TaggedTransport (see tagged_transport.h) over a UCP worker with tag
// matching. Worker addresses travel through the bootstrap; endpoints use
// UCP_ERR_HANDLING_MODE_PEER, so a peer that dies fails its endpoint, its pending receives are
// cancelled, the endpoint is force-closed and the collective waiting on it returns
// strataRemoteError. UCX reads its own settings (UCX_TLS, UCX_NET_DEVICES, ...) from the
// environment as usual.
#pragma once

#include <memory>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "base/status.h"
#include "transports/tagged_transport.h"
#include "transports/transport.h"

namespace strata {

// Connects this rank to every rank r with opts.connect[r] set. Collective over bs. When UCX
// cannot be opened on some rank, every rank fails and *unavailable is set.
Result<std::unique_ptr<Transport>> createUcxTransport(Bootstrap& bs,
                                                      const std::vector<PeerInfo>& peers,
                                                      const NetOptions& opts,
                                                      bool* unavailable = nullptr);

}  // namespace strata
