// Connects calls to registered windows: a call whose buffers all lie in windows is marked
// windowed (the planner may then pick a direct algorithm), and its run item learns where every
// rank's copy of its buffers is mapped in this process.
#pragma once

#include "plan/coll_args.h"
#include "plan/executor.h"
#include "runtime/comm.h"

namespace strata {

// Sets args.windowed (and the peer tables) when every buffer the call's direct algorithms use
// lies in a registered window on every rank. Broadcast uses only the receive buffers.
void markWindowed(Comm& comm, CollArgs& args);

// For windowed calls, fills item.peerSend/peerRecv (reusing their capacity); clears them
// otherwise.
void bindPeers(RunItem& item, const CollArgs& args, int nranks);

// Counts a call queued on a stream against the windows it uses (a window in use cannot be
// deregistered), and releases the count once the call has run.
void holdWindows(Comm& comm, const CollArgs& args, int delta);

}  // namespace strata
