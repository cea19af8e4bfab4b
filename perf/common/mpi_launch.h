// The MPI side of `mpirun -np N TOOL`: MPI starts the processes and carries the unique id from
// rank 0 to the others, and nothing else. Built with MPI only when CMake finds it.
#pragma once

#include "strata/strata.h"

namespace strata::perf {

class MpiJob {
 public:
  // True when this binary was built with MPI and mpirun started this process.
  static bool available();

  // MPI_Init; MPI_Finalize when destroyed.
  MpiJob(int* argc, char*** argv);
  ~MpiJob();
  MpiJob(const MpiJob&) = delete;
  MpiJob& operator=(const MpiJob&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Copies rank 0's id into every process's *id.
  void broadcastId(strataUniqueId* id) const;

 private:
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace strata::perf
