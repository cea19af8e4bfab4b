// The reduction operators strataRedOpCreatePreMulSum hands out: a table of live ops, each
// belonging to one communicator and one datatype, and what a reducing call does with one.
#pragma once

#include "plan/coll_args.h"
#include "runtime/comm.h"

namespace strata::api {

// Checks a reducing call's op (AllReduce, Reduce, ReduceScatter; datatype already checked): a
// built-in op, or a live pre-multiplied sum of `comm` created for `datatype`, which turns the
// call into strataSum with args.premul set. strataInvalidArgument names the op otherwise.
Status resolveReduceOp(const char* name, strataRedOp_t op, strataDataType_t datatype,
                       const Comm& comm, CollArgs& args);

// Whether `op` is a live op of strataRedOpCreatePreMulSum (for the calls that refuse one).
bool isPreMulSumOp(strataRedOp_t op);

// Destroys the ops of a communicator that is being destroyed or aborted.
void dropRedOps(const Comm* comm);

}  // namespace strata::api
