// Who launched this process, and so which rank it is and where the bootstrap root lives.
//
// Recognised, first match wins:
//   strata-run  STRATA_RANK, STRATA_NRANKS, STRATA_LOCAL_RANK, STRATA_COMM_ID
//   mpirun      OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK
//   Slurm       SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID
//   torchrun    RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
// STRATA_COMM_ID (host:port, rank 0 hosts the root there) always names the root when set. Only
// torchrun provides an address of its own: the root then listens on MASTER_ADDR at port
// MASTER_PORT+1, because torch's own TCP store already listens on MASTER_PORT. mpirun and Slurm
// give no address, so STRATA_COMM_ID is required with them.
//
// The secret every connection to the root must prove is STRATA_COMM_SECRET (32 hex digits) when
// set. Otherwise it is derived from the root address and a job identifier found in the
// environment (SLURM_JOB_ID, OMPI_MCA_ess_base_jobid, PMIX_NAMESPACE, TORCHELASTIC_RUN_ID, ...),
// which keeps concurrent jobs apart but is no protection: anyone who can read those variables,
// or guess them, and reach the port can join. Without STRATA_COMM_SECRET, treat the root's port
// as open to everyone who can reach it.
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
  std::string commId;  // host:port of the root (rank 0 hosts it), or empty
  std::array<uint8_t, 16> secret{};
  std::string source;  // "strata-run", "mpirun", "slurm" or "torchrun"
};

// Reads the launcher's variables. InvalidArgument, naming the variable, when no launcher is
// recognised, a number is malformed, rank >= nranks, or no root address can be found.
Result<LaunchEnv> detectLaunchEnv();

// The secret for the root at commId: STRATA_COMM_SECRET, else derived from commId and the job
// identifier in the environment (the same in every process of the job).
Result<BootstrapSecret> launchSecret(const std::string& commId);

}  // namespace strata
