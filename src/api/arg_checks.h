// The argument checks every collective call shares, the arguments they all pass the same way,
// and submit(): validate the handles, run the call's own checks, launch. Each check returns
// strataInvalidArgument naming the call, the argument and its value.
#pragma once

#include <cstddef>

#include "api/handles.h"
#include "runtime/launch.h"

namespace strata::api {

Status checkType(const char* op, strataDataType_t t);
Status checkOp(const char* op, strataRedOp_t r);
// r must be in [0, n); `what` names it ("root", "peer").
Status checkRank(const char* op, const char* what, int r, int n);
// count elements of t, times `factor` (ranks; 1 for one block), must be a buffer of at most
// kMaxBufferBytes: larger is a wrong count, and the byte product must not wrap.
Status checkCount(const char* op, const char* what, size_t count, size_t factor,
                  strataDataType_t t);
// The per-rank counts and displacements of a v-collective: each count and displacement, their
// sums per rank and the sum of the counts must stay within kMaxBufferBytes (so none of the sums
// wraps). *extent gets max(displs[r] + counts[r]), the elements the buffer must hold.
Status checkCountVector(const char* op, const char* countsName, const char* displsName,
                        const size_t* counts, const size_t* displs, size_t n, strataDataType_t t,
                        size_t* extent);
// A NULL buffer is an error when it has bytes to move.
Status checkBuf(const char* op, const char* what, const void* p, size_t bytes);
// sendbuff and recvbuff of one size, `count` elements of t times `factor` (ranks; 1 for one
// block): the count, then each buffer. *bytes gets that size.
Status checkSendRecv(const char* op, size_t count, size_t factor, strataDataType_t t,
                     const void* sendbuff, const void* recvbuff, size_t* bytes);
bool overlaps(const void* a, size_t na, const void* b, size_t nb);
// Out of place, sendbuff and recvbuff must not overlap; `rule`, when not empty, follows the
// message (how the call's in-place form is written).
Status checkApart(const char* op, const void* sendbuff, size_t sendBytes, const void* recvbuff,
                  size_t recvBytes, bool inPlace, const char* rule = "");
// The buffers of a gather into every rank (AllGather, its quantised form): sendbuff of `bytes`,
// then recvbuff of nranks such blocks. *inPlace gets whether sendbuff is this rank's block.
Status checkGatherBufs(const char* op, int rank, int nranks, const void* sendbuff,
                       const void* recvbuff, size_t bytes, bool* inPlace);
// The in-place rule of the calls that gather into or scatter from a whole buffer: `part`, of
// `bytes` bytes (none is never in place), is the whole's block at byte `offset`.
bool isPartOf(const void* part, size_t bytes, const void* whole, size_t offset);

// A call's CollArgs with the fields every call passes the same way; the caller adds its own
// (op, root, peer, in place, counts per rank).
CollArgs collArgs(CollType coll, const void* sendbuff, void* recvbuff, size_t count,
                  strataDataType_t dtype);

// The common tail of every call: validate the handles, run `check` on the communicator, launch.
template <typename Check>
strataResult_t submit(const char* op, strataComm_t handle, strataStream_t stream, CollArgs& args,
                      Check&& check) {
  return onComm(op, handle, [&](Comm* comm) -> strataResult_t {
    auto s = checkStream(stream, op);
    if (!s.isOk()) return finish(s.status(), comm);
    const Status st = check(*comm);
    if (!st.isOk()) return finish(st, comm);
    ActiveCall active(comm);
    return finish(launch(*comm, args, s.value()), comm);
  });
}

// submit() for a call whose datatype must be a strataDataType_t: checked before the call's own
// checks.
template <typename Check>
strataResult_t submitTyped(const char* op, strataComm_t handle, strataStream_t stream,
                           CollArgs& args, Check&& check) {
  return submit(op, handle, stream, args, [&](Comm& comm) {
    STRATA_CHECK(checkType(op, args.dtype));
    return check(comm);
  });
}

}  // namespace strata::api
