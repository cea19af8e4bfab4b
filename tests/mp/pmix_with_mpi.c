/* An application that uses MPI itself and takes its Strata communicator from the launch
 * environment, under mpirun: MPI_Init before strataCommInitFromEnv ("mpi-first") or after it
 * ("strata-first"). Both libraries then reduce; prints "OK rank R" and exits 0 when both sums are
 * right. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "strata/strata.h"

static int initStrata(strataComm_t* comm) {
  if (strataCommInitFromEnv(comm, NULL) != strataSuccess) {
    printf("FAIL: strataCommInitFromEnv: %s\n", strataGetLastError(NULL));
    return 0;
  }
  return 1;
}

int main(int argc, char** argv) {
  const int mpiFirst = argc > 1 && strcmp(argv[1], "mpi-first") == 0;
  strataComm_t comm = NULL;
  if (!mpiFirst && !initStrata(&comm)) return 1;
  MPI_Init(&argc, &argv);
  if (mpiFirst && !initStrata(&comm)) return 1;
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  float x = 1.0f;
  strataResult_t r = strataAllReduce(&x, &x, 1, strataFloat32, strataSum, comm, NULL);
  double y = 1.0, sum = 0.0;
  MPI_Allreduce(&y, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  const int ok = r == strataSuccess && x == (float)size && sum == (double)size;
  if (ok)
    printf("OK rank %d\n", rank);
  else
    printf("FAIL rank %d: strata %s, sum %g; MPI sum %g; expected %d\n", rank,
           strataGetErrorString(r), x, sum, size);
  strataCommFinalize(comm);
  strataCommDestroy(comm);
  MPI_Finalize();
  return ok ? 0 : 1;
}
