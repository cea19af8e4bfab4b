// The TCP bootstrap: every rank holds one connection to the root named by the strataUniqueId (a
// star; see tcp_root.h) and runs its waits on its own thread, each with the deadline of
// BootstrapOptions::timeoutMs and a check of the abort flag at least every 50 ms.
//
// Errors: strataTimeout names the operation, the root and the rank ("bootstrap allgather: timed
// out after 5000 ms waiting for the root at 10.0.0.1:5555 (rank 3 of 4)"); a peer that died makes
// every other rank's waits fail with strataRemoteError naming it; an abort makes them fail with
// strataRemoteError "aborted". Destroying the bootstrap says BYE to the root, unless aborted, in
// which case the other ranks see this rank as disconnected.
#pragma once

#include <memory>

#include "bootstrap/bootstrap.h"
#include "bootstrap/unique_id.h"
#include "base/status.h"
#include "strata/strata.h"

namespace strata {

// Connects rank `rank` of `nranks` to the root named by id, starting that root first when
// rank == 0 and the id says rank 0 hosts it. Retries a refused connection (the root may not
// listen yet) until the deadline. Children made by joinChild inherit opts, abort flag included,
// so that flag must outlive them.
Result<std::unique_ptr<Bootstrap>> connectTcpBootstrap(const strataUniqueId& id, int rank,
                                                       int nranks, const BootstrapOptions& opts);

}  // namespace strata
