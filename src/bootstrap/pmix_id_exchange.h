// Rank 0's unique id shared through the job's PMIx server, so that strataCommInitFromEnv needs
// neither MPI nor STRATA_COMM_ID under Open MPI's mpirun or Slurm's `srun --mpi=pmix`: rank 0
// starts a bootstrap root on this host with a fresh secret and publishes the id (PMIx_Put,
// PMIx_Commit); every rank joins a PMIx_Fence that collects the data and reads rank 0's id with
// PMIx_Get. PMIx_Finalize runs at process exit (an MPI_Init after it would fail). The id, secret
// included, stays inside the job: only the job's processes reach its PMIx server.
//
// Built when pkg-config finds pmix (STRATA_WITH_PMIX): pmix_id_exchange.cc, else
// pmix_id_exchange_none.cc, whose exchange fails saying so.
#pragma once

#include <functional>

#include "base/status.h"
#include "strata/strata.h"

namespace strata {

// True when this library was built with PMIx.
bool pmixBuilt();

// True when a PMIx server started this process (PMIX_NAMESPACE and PMIX_RANK are set).
bool pmixServerInEnvironment();

// Collective over every process of the PMIx namespace (all ranks of the mpirun or srun job), in
// the same order on each when called more than once. `rank` must be this process's PMIx rank; on
// rank 0 makeId makes the id, and a failure there is published too, so that the other ranks fail
// with its message rather than wait. timeoutMs bounds the fence (<= 0: no bound).
Result<strataUniqueId> shareUniqueIdOverPmix(int rank,
                                             const std::function<Result<strataUniqueId>()>& makeId,
                                             long timeoutMs);

}  // namespace strata
