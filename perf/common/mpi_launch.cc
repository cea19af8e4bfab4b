// STRATA_PERF_WITH_MPI is defined by CMake when it found MPI; this is the one file that tests it.
#include "common/mpi_launch.h"

#include <cstdio>
#include <cstdlib>

#ifdef STRATA_PERF_WITH_MPI
#include <mpi.h>
#endif

namespace strata::perf {

#ifdef STRATA_PERF_WITH_MPI

bool MpiJob::available() {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  return size != nullptr && *size != '\0';
}

MpiJob::MpiJob(int* argc, char*** argv) {
  MPI_Init(argc, argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiJob::~MpiJob() { MPI_Finalize(); }

void MpiJob::broadcastId(strataUniqueId* id) const {
  MPI_Bcast(id, sizeof(*id), MPI_BYTE, 0, MPI_COMM_WORLD);
}

#else

bool MpiJob::available() { return false; }

MpiJob::MpiJob(int*, char***) {
  std::fprintf(stderr, "this binary was built without MPI\n");
  std::abort();
}

MpiJob::~MpiJob() = default;

void MpiJob::broadcastId(strataUniqueId*) const {}

#endif

}  // namespace strata::perf
