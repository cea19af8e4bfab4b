// How the ranks of a perf tool start and meet:
//   no launcher   the -t threads of this process are all the ranks (strataCommInitAll);
//   mpirun        MPI_Init, rank 0's unique id broadcast with MPI, strataCommInitRank;
//   strata-run    (and Slurm, torchrun, or mpirun without an MPI build) strataCommInitFromEnv,
//                 or with -t T > 1 the id that STRATA_COMM_ID names.
// With a launcher and -t T, process p runs ranks p*T .. p*T+T-1.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/mpi_launch.h"
#include "strata/strata.h"

namespace strata::perf {

class Launch {
 public:
  // May call MPI_Init; keep the object alive until the communicators are destroyed.
  Launch(int* argc, char*** argv, int threads);
  ~Launch();

  // "threads", "mpirun", "strata-run", "slurm" or "torchrun".
  const std::string& launcher() const { return launcher_; }
  int threads() const { return threads_; }

  // Creates this process's communicators, one per thread, together with the other processes.
  // Throws std::runtime_error naming the call that failed.
  std::vector<strataComm_t> createComms(const strataConfig_t& config);

 private:
  enum class Mode { kThreads, kMpi, kEnv };

  std::vector<strataComm_t> initRanks(const strataUniqueId& id, int nranks, int firstRank,
                                      const strataConfig_t& config);

  Mode mode_ = Mode::kThreads;
  std::string launcher_ = "threads";
  int threads_ = 1;
  int nprocs_ = 1;  // from the launcher's environment (kEnv) or MPI (kMpi)
  int proc_ = 0;
  std::unique_ptr<MpiJob> mpi_;
};

}  // namespace strata::perf
