// In-process bootstrap: ranks are threads of one process (strataCommInitAll, thread-rank tests).
// The ranks share one group object; every operation is a few lines under its mutex.
#pragma once

#include <memory>
#include <vector>

#include "bootstrap/bootstrap.h"

namespace strata {

// One bootstrap per rank of a new group of nranks threads; element i belongs to rank i. Waits end
// with strataTimeout after opts.timeoutMs (naming the ranks still missing) and with
// strataRemoteError within 10 ms of *opts.abort becoming true. Empty when nranks <= 0.
//
// Child groups (joinChild) live in a process-wide registry until all their members have joined
// and inherit the parent's options.
std::vector<std::unique_ptr<Bootstrap>> createInProcessBootstraps(int nranks,
                                                                  const BootstrapOptions& opts);

}  // namespace strata
