// Launching calls: alone (run now or queue on a stream) or fused by strataGroupStart/End.
#pragma once

#include "plan/coll_args.h"
#include "runtime/comm.h"
#include "runtime/stream.h"

namespace strata {

// Runs or queues one call, or records it when a group is open on this thread.
Status launch(Comm& comm, const CollArgs& args, Stream* stream);

Status groupStart();
// Closes a group; at the outermost level runs or queues everything recorded.
Status groupEnd();
bool inGroup();

}  // namespace strata
