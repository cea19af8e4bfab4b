// Who launched this process, and so which rank it is and where the bootstrap root lives.
//
// Recognised, first match wins:
//   strata-run  STRATA_RANK, STRATA_NRANKS, STRATA_LOCAL_RANK, STRATA_COMM_ID
//   mpirun      OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK
//   Slurm       SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID
//   torchrun    RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
// STRATA_COMM_ID (host:port, rank 0 hosts the root there) always names the root when set. Without
// it: torchrun's root listens on MASTER_ADDR at port MASTER_PORT+1, because torch's own TCP store
// already listens on MASTER_PORT; under mpirun and Slurm, whose PMIx server started the ranks
// (PMIX_NAMESPACE), rank 0 starts a root with a random secret and shares the id through PMIx
// (pmix_id_exchange.h). mpirun and Slurm without PMIx need STRATA_COMM_ID.
//
// The secret every connection to the root must prove is STRATA_COMM_SECRET (32 hex digits) when
// set, else the content of the private (mode 0600, own) file STRATA_COMM_SECRET_FILE names.
// Otherwise it is derived from the root address and a job identifier found in the
// environment (SLURM_JOB_ID, OMPI_MCA_ess_base_jobid, PMIX_NAMESPACE, TORCHELASTIC_RUN_ID, ...),
// which keeps concurrent jobs apart but is no protection: anyone who can read those variables,
// or guess them, and reach the port can join. Without STRATA_COMM_SECRET(_FILE), treat the root's
// port as open to everyone who can reach it.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "bootstrap/unique_id.h"
#include "base/status.h"

namespace strata {

struct LaunchEnv {
  int rank = -1;
  int nranks = 0;
  // This process's index among the ranks on its host; 0 when the launcher does not say, except
  // under strata-run, which launches every rank on one host (then it is the rank).
  int localRank = 0;
  std::string commId;  // host:port of the root (rank 0 hosts it); empty when pmix is set
  std::array<uint8_t, 16> secret{};
  std::string source;  // "strata-run", "mpirun", "slurm" or "torchrun"
  bool pmix = false;   // rank 0 makes the id and shares it through PMIx
};

// Reads the launcher's variables. InvalidArgument, naming the variable, when no launcher is
// recognised, a number is malformed, rank >= nranks, or neither a root address nor PMIx can be
// found.
Result<LaunchEnv> detectLaunchEnv();

// The unique id of the communicator env describes: from its root address and secret, or through
// PMIx (collective over the job's ranks; timeoutMs bounds the wait).
Result<strataUniqueId> launchUniqueId(const LaunchEnv& env, long timeoutMs);

// The secret for the root at commId: STRATA_COMM_SECRET, else the one in the private file
// STRATA_COMM_SECRET_FILE names, else derived from commId and the job identifier in the
// environment (the same in every process of the job). A secret derived from the address alone
// (no job id) is announced on stderr once per process, whatever the log level.
Result<BootstrapSecret> launchSecret(const std::string& commId);

// STRATA_COMM_SECRET or STRATA_COMM_SECRET_FILE is set.
bool chosenSecretInEnvironment();

}  // namespace strata
