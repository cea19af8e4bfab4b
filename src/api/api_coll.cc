// Collectives, Send/Recv and Barrier: argument checks, then launch.
#include <limits>

#include "api/handles.h"
#include "runtime/launch.h"
#include "base/dtype.h"
#include "base/limits.h"

using strata::CollArgs;
using strata::CollType;
using strata::Comm;
using strata::makeError;
using strata::Status;
using strata::api::finish;
using strata::api::guard;

namespace {

Status checkType(const char* op, strataDataType_t t) {
  if (static_cast<int>(t) < 0 || static_cast<int>(t) >= strataNumTypes)
    return makeError(strataInvalidArgument, "%s: datatype %d is not a strataDataType_t", op,
                     static_cast<int>(t));
  return Status::ok();
}

Status checkOp(const char* op, strataRedOp_t r) {
  if (static_cast<int>(r) < 0 || static_cast<int>(r) >= strataNumOps)
    return makeError(strataInvalidArgument, "%s: op %d is not a strataRedOp_t", op,
                     static_cast<int>(r));
  return Status::ok();
}

Status checkRank(const char* op, const char* what, int r, int n) {
  if (r < 0 || r >= n)
    return makeError(strataInvalidArgument, "%s: %s %d is outside [0, %d)", op, what, r, n);
  return Status::ok();
}

// count elements of t, times `factor` (ranks; 1 for one block), must be a buffer of at most
// kMaxBufferBytes: larger is a wrong count, and the byte product must not wrap.
Status checkCount(const char* op, const char* what, size_t count, size_t factor, strataDataType_t t) {
  const uint64_t es = strata::dtypeSize(t);
  uint64_t elems = 0, bytes = 0;
  if (strata::boundedProduct(count, factor == 0 ? 1 : factor, UINT64_MAX, &elems) &&
      strata::boundedProduct(elems, es, strata::kMaxBufferBytes, &bytes))
    return Status::ok();
  if (factor > 1)
    return makeError(strataInvalidArgument,
                     "%s: %s %zu is too large: %zu x %zu ranks x %llu-byte elements is more than "
                     "the %llu bytes one buffer may span",
                     op, what, count, count, factor, static_cast<unsigned long long>(es),
                     static_cast<unsigned long long>(strata::kMaxBufferBytes));
  return makeError(strataInvalidArgument,
                   "%s: %s %zu is too large: %zu x %llu-byte elements is more than the %llu bytes "
                   "one buffer may span",
                   op, what, count, count, static_cast<unsigned long long>(es),
                   static_cast<unsigned long long>(strata::kMaxBufferBytes));
}

// The per-rank counts and displacements of a v-collective: each count and displacement, their
// sums per rank and the sum of the counts must stay within kMaxBufferBytes (so none of the sums
// wraps). *extent gets max(displs[r] + counts[r]), the elements the buffer must hold.
Status checkCountVector(const char* op, const char* countsName, const char* displsName,
                        const size_t* counts, const size_t* displs, size_t n, strataDataType_t t,
                        size_t* extent) {
  const uint64_t es = strata::dtypeSize(t);
  const uint64_t maxElems = strata::kMaxBufferBytes / es;
  uint64_t total = 0, end = 0;
  for (size_t r = 0; r < n; ++r) {
    if (counts[r] > maxElems || displs[r] > maxElems || counts[r] + displs[r] > maxElems)
      return makeError(strataInvalidArgument,
                       "%s: %s[%zu] %zu + %s[%zu] %zu is more than the %llu %llu-byte elements one "
                       "buffer may span",
                       op, countsName, r, counts[r], displsName, r, displs[r],
                       static_cast<unsigned long long>(maxElems),
                       static_cast<unsigned long long>(es));
    total += counts[r];  // each term <= maxElems < 2^40 and n <= kMaxRanks: cannot wrap
    if (total > maxElems)
      return makeError(strataInvalidArgument,
                       "%s: the sum of %s[0..%zu] is more than the %llu %llu-byte elements one "
                       "buffer may span",
                       op, countsName, r, static_cast<unsigned long long>(maxElems),
                       static_cast<unsigned long long>(es));
    end = std::max<uint64_t>(end, counts[r] + displs[r]);
  }
  *extent = static_cast<size_t>(end);
  return Status::ok();
}

Status checkBuf(const char* op, const char* what, const void* p, size_t bytes) {
  if (p == nullptr && bytes > 0)
    return makeError(strataInvalidArgument, "%s: %s is NULL with %zu bytes to move", op, what, bytes);
  return Status::ok();
}

bool overlaps(const void* a, size_t na, const void* b, size_t nb) {
  auto x = reinterpret_cast<uintptr_t>(a);
  auto y = reinterpret_cast<uintptr_t>(b);
  return na > 0 && nb > 0 && x < y + nb && y < x + na;
}

// The common tail of every call: validate the handles, run the call-specific checks, launch.
template <typename Check>
strataResult_t submit(const char* op, strataComm_t handle, strataStream_t stream, CollArgs& args,
                      Check&& check) {
  return guard(op, [&]() -> strataResult_t {
    auto c = strata::api::checkComm(handle, op);
    if (!c.isOk()) return finish(c.status());
    Comm* comm = c.value();
    strata::RankScope scope(comm->rank());
    auto s = strata::api::checkStream(stream, op);
    if (!s.isOk()) return finish(s.status(), comm);
    Status st = checkType(op, args.dtype);
    if (st.isOk()) st = check(*comm);
    if (!st.isOk()) return finish(st, comm);
    strata::api::ActiveCall active(comm);
    st = strata::launch(*comm, args, s.value());
    return finish(st, comm);
  });
}

}  // namespace

extern "C" {

strataResult_t strataAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                               strataDataType_t datatype, strataRedOp_t op, strataComm_t comm,
                               strataStream_t stream) {
  const char* name = "strataAllReduce";
  CollArgs a;
  a.coll = CollType::kAllReduce;
  a.sendbuff = sendbuff;
  a.recvbuff = recvbuff;
  a.count = count;
  a.dtype = datatype;
  a.op = op;
  a.inPlace = sendbuff == recvbuff;
  return submit(name, comm, stream, a, [&](Comm&) {
    STRATA_CHECK(checkOp(name, op));
    STRATA_CHECK(checkCount(name, "count", count, 1, datatype));
    const size_t bytes = count * strata::dtypeSize(datatype);
    STRATA_CHECK(checkBuf(name, "sendbuff", sendbuff, bytes));
    return checkBuf(name, "recvbuff", recvbuff, bytes);
  });
}

strataResult_t strataBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                               strataDataType_t datatype, int root, strataComm_t comm,
                               strataStream_t stream) {
  const char* name = "strataBroadcast";
  CollArgs a;
  a.coll = CollType::kBroadcast;
  a.sendbuff = sendbuff;
  a.recvbuff = recvbuff;
  a.count = count;
  a.dtype = datatype;
  a.root = root;
  a.inPlace = sendbuff == recvbuff;
  return submit(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkRank(name, "root", root, c.nranks()));
    STRATA_CHECK(checkCount(name, "count", count, 1, datatype));
    const size_t bytes = count * strata::dtypeSize(datatype);
    if (c.rank() == root) STRATA_CHECK(checkBuf(name, "sendbuff (on the root)", sendbuff, bytes));
    return checkBuf(name, "recvbuff", recvbuff, bytes);
  });
}

strataResult_t strataReduce(const void* sendbuff, void* recvbuff, size_t count,
                            strataDataType_t datatype, strataRedOp_t op, int root,
                            strataComm_t comm, strataStream_t stream) {
  const char* name = "strataReduce";
  CollArgs a;
  a.coll = CollType::kReduce;
  a.sendbuff = sendbuff;
  a.recvbuff = recvbuff;
  a.count = count;
  a.dtype = datatype;
  a.op = op;
  a.root = root;
  a.inPlace = sendbuff == recvbuff;
  return submit(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkOp(name, op));
    STRATA_CHECK(checkRank(name, "root", root, c.nranks()));
    STRATA_CHECK(checkCount(name, "count", count, 1, datatype));
    const size_t bytes = count * strata::dtypeSize(datatype);
    STRATA_CHECK(checkBuf(name, "sendbuff", sendbuff, bytes));
    if (c.rank() == root) return checkBuf(name, "recvbuff (on the root)", recvbuff, bytes);
    return Status::ok();
  });
}

strataResult_t strataAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                               strataDataType_t datatype, strataComm_t comm,
                               strataStream_t stream) {
  const char* name = "strataAllGather";
  CollArgs a;
  a.coll = CollType::kAllGather;
  a.sendbuff = sendbuff;
  a.recvbuff = recvbuff;
  a.count = sendcount;
  a.dtype = datatype;
  return submit(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkCount(name, "sendcount", sendcount, static_cast<size_t>(c.nranks()), datatype));
    const size_t bytes = sendcount * strata::dtypeSize(datatype);
    STRATA_CHECK(checkBuf(name, "sendbuff", sendbuff, bytes));
    STRATA_CHECK(checkBuf(name, "recvbuff", recvbuff, bytes * static_cast<size_t>(c.nranks())));
    a.inPlace = bytes > 0 && static_cast<const char*>(sendbuff) ==
                                 static_cast<const char*>(recvbuff) + bytes * c.rank();
    return Status::ok();
  });
}

strataResult_t strataAllGatherv(const void* sendbuff, size_t sendcount, void* recvbuff,
                                const size_t* recvcounts, const size_t* rdispls,
                                strataDataType_t datatype, strataComm_t comm,
                                strataStream_t stream) {
  const char* name = "strataAllGatherv";
  CollArgs a;
  a.coll = CollType::kAllGatherv;
  a.sendbuff = sendbuff;
  a.recvbuff = recvbuff;
  a.count = sendcount;
  a.dtype = datatype;
  return submit(name, comm, stream, a, [&](Comm& c) {
    if (!recvcounts) return makeError(strataInvalidArgument, "%s: recvcounts is NULL", name);
    if (!rdispls) return makeError(strataInvalidArgument, "%s: rdispls is NULL", name);
    const size_t n = static_cast<size_t>(c.nranks());
    const size_t me = static_cast<size_t>(c.rank());
    a.recvcounts.assign(recvcounts, recvcounts + n);
    a.rdispls.assign(rdispls, rdispls + n);
    if (recvcounts[me] != sendcount)
      return makeError(strataInvalidArgument, "%s: recvcounts[%zu] is %zu but sendcount is %zu",
                       name, me, recvcounts[me], sendcount);
    size_t extent = 0;
    STRATA_CHECK(checkCount(name, "sendcount", sendcount, 1, datatype));
    STRATA_CHECK(checkCountVector(name, "recvcounts", "rdispls", recvcounts, rdispls, n, datatype,
                                  &extent));
    const size_t es = strata::dtypeSize(datatype);
    STRATA_CHECK(checkBuf(name, "sendbuff", sendbuff, sendcount * es));
    STRATA_CHECK(checkBuf(name, "recvbuff", recvbuff, extent * es));
    a.inPlace = sendcount > 0 && static_cast<const char*>(sendbuff) ==
                                     static_cast<const char*>(recvbuff) + rdispls[me] * es;
    return Status::ok();
  });
}

strataResult_t strataReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                   strataDataType_t datatype, strataRedOp_t op, strataComm_t comm,
                                   strataStream_t stream) {
  const char* name = "strataReduceScatter";
  CollArgs a;
  a.coll = CollType::kReduceScatter;
  a.sendbuff = sendbuff;
  a.recvbuff = recvbuff;
  a.count = recvcount;
  a.dtype = datatype;
  a.op = op;
  return submit(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkOp(name, op));
    STRATA_CHECK(checkCount(name, "recvcount", recvcount, static_cast<size_t>(c.nranks()), datatype));
    const size_t bytes = recvcount * strata::dtypeSize(datatype);
    STRATA_CHECK(checkBuf(name, "sendbuff", sendbuff, bytes * static_cast<size_t>(c.nranks())));
    STRATA_CHECK(checkBuf(name, "recvbuff", recvbuff, bytes));
    a.inPlace = bytes > 0 && static_cast<const char*>(recvbuff) ==
                                 static_cast<const char*>(sendbuff) + bytes * c.rank();
    return Status::ok();
  });
}

strataResult_t strataAllToAll(const void* sendbuff, void* recvbuff, size_t count,
                              strataDataType_t datatype, strataComm_t comm, strataStream_t stream) {
  const char* name = "strataAllToAll";
  CollArgs a;
  a.coll = CollType::kAllToAll;
  a.sendbuff = sendbuff;
  a.recvbuff = recvbuff;
  a.count = count;
  a.dtype = datatype;
  a.inPlace = sendbuff == recvbuff;
  return submit(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkCount(name, "count", count, static_cast<size_t>(c.nranks()), datatype));
    const size_t bytes = count * strata::dtypeSize(datatype) * static_cast<size_t>(c.nranks());
    STRATA_CHECK(checkBuf(name, "sendbuff", sendbuff, bytes));
    STRATA_CHECK(checkBuf(name, "recvbuff", recvbuff, bytes));
    if (!a.inPlace && overlaps(sendbuff, bytes, recvbuff, bytes))
      return makeError(strataInvalidArgument,
                       "%s: sendbuff and recvbuff overlap without being equal", name);
    return Status::ok();
  });
}

strataResult_t strataAllToAllv(const void* sendbuff, const size_t* sendcounts,
                               const size_t* sdispls, void* recvbuff, const size_t* recvcounts,
                               const size_t* rdispls, strataDataType_t datatype, strataComm_t comm,
                               strataStream_t stream) {
  const char* name = "strataAllToAllv";
  CollArgs a;
  a.coll = CollType::kAllToAllv;
  a.sendbuff = sendbuff;
  a.recvbuff = recvbuff;
  a.dtype = datatype;
  a.inPlace = sendbuff == recvbuff;
  return submit(name, comm, stream, a, [&](Comm& c) {
    const struct {
      const size_t* p;
      const char* what;
    } arrays[] = {{sendcounts, "sendcounts"}, {sdispls, "sdispls"}, {recvcounts, "recvcounts"},
                  {rdispls, "rdispls"}};
    for (const auto& arr : arrays)
      if (!arr.p) return makeError(strataInvalidArgument, "%s: %s is NULL", name, arr.what);
    const size_t n = static_cast<size_t>(c.nranks());
    a.sendcounts.assign(sendcounts, sendcounts + n);
    a.sdispls.assign(sdispls, sdispls + n);
    a.recvcounts.assign(recvcounts, recvcounts + n);
    a.rdispls.assign(rdispls, rdispls + n);
    size_t sendExtent = 0, recvExtent = 0;
    STRATA_CHECK(checkCountVector(name, "sendcounts", "sdispls", sendcounts, sdispls, n, datatype,
                                  &sendExtent));
    STRATA_CHECK(checkCountVector(name, "recvcounts", "rdispls", recvcounts, rdispls, n, datatype,
                                  &recvExtent));
    const size_t es = strata::dtypeSize(datatype);
    STRATA_CHECK(checkBuf(name, "sendbuff", sendbuff, sendExtent * es));
    STRATA_CHECK(checkBuf(name, "recvbuff", recvbuff, recvExtent * es));
    a.count = sendExtent;
    if (!a.inPlace && overlaps(sendbuff, sendExtent * es, recvbuff, recvExtent * es))
      return makeError(strataInvalidArgument,
                       "%s: sendbuff and recvbuff overlap without being equal", name);
    return Status::ok();
  });
}

}  // extern "C"

namespace {

// Send and Recv differ only in which buffer they name.
strataResult_t pointToPoint(const char* name, CollType coll, void* buf, size_t count,
                            strataDataType_t datatype, int peer, strataComm_t comm,
                            strataStream_t stream) {
  const bool sends = coll == CollType::kSend;
  CollArgs a;
  a.coll = coll;
  if (sends) a.sendbuff = buf;
  else a.recvbuff = buf;
  a.count = count;
  a.dtype = datatype;
  a.peer = peer;
  return submit(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkRank(name, "peer", peer, c.nranks()));
    STRATA_CHECK(checkCount(name, "count", count, 1, datatype));
    return checkBuf(name, sends ? "sendbuff" : "recvbuff", buf,
                    count * strata::dtypeSize(datatype));
  });
}

}  // namespace

extern "C" {

strataResult_t strataSend(const void* sendbuff, size_t count, strataDataType_t datatype, int peer,
                          strataComm_t comm, strataStream_t stream) {
  return pointToPoint("strataSend", CollType::kSend, const_cast<void*>(sendbuff), count, datatype,
                      peer, comm, stream);
}

strataResult_t strataRecv(void* recvbuff, size_t count, strataDataType_t datatype, int peer,
                          strataComm_t comm, strataStream_t stream) {
  return pointToPoint("strataRecv", CollType::kRecv, recvbuff, count, datatype, peer, comm,
                      stream);
}

strataResult_t strataBarrier(strataComm_t comm, strataStream_t stream) {
  CollArgs a;
  a.coll = CollType::kBarrier;
  a.dtype = strataUint8;
  return submit("strataBarrier", comm, stream, a, [](Comm&) { return Status::ok(); });
}

}  // extern "C"
