// The main function every perf tool shares: parse the command line, start the ranks (threads,
// mpirun, strata-run, or --sim on the sim transport), sweep, print the nccl-tests table. Returns
// the exit status: 0 when every checked value was right, 1 on a wrong value or a failed call, 2
// on a usage error.
#pragma once

#include "common/collective.h"

namespace strata::perf {

int runPerfTool(int argc, char** argv, Collective& coll);

}  // namespace strata::perf
