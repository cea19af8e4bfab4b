// Collectives, Send/Recv and Barrier: argument checks, then launch.
#include <string>

#include "api/arg_checks.h"
#include "api/redop.h"
#include "base/dtype.h"

using strata::CollArgs;
using strata::CollType;
using strata::Comm;
using strata::makeError;
using strata::Status;
using strata::api::checkApart;
using strata::api::checkBuf;
using strata::api::checkCount;
using strata::api::checkCountVector;
using strata::api::checkGatherBufs;
using strata::api::checkRank;
using strata::api::checkSendRecv;
using strata::api::collArgs;
using strata::api::isPartOf;
using strata::api::overlaps;
using strata::api::resolveReduceOp;
using strata::api::submitTyped;

namespace {

// Gather and Scatter: every rank's block of count elements (Gather's sendbuff, Scatter's
// recvbuff) and the root's whole nranks x count buffer (Gather's recvbuff, Scatter's sendbuff),
// read or written on the root only. In place: the block is the root's own part of the whole.
strataResult_t rootedCall(const char* name, CollType coll, const void* sendbuff, void* recvbuff,
                          size_t count, strataDataType_t datatype, int root, strataComm_t comm,
                          strataStream_t stream) {
  const bool gather = coll == CollType::kGather;
  const void* block = gather ? sendbuff : recvbuff;
  const void* whole = gather ? recvbuff : sendbuff;
  const char* blockName = gather ? "sendbuff" : "recvbuff";
  const char* wholeName = gather ? "recvbuff" : "sendbuff";
  CollArgs a = collArgs(coll, sendbuff, recvbuff, count, datatype);
  a.root = root;
  return submitTyped(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkRank(name, "root", root, c.nranks()));
    STRATA_CHECK(checkCount(name, "count", count, static_cast<size_t>(c.nranks()), datatype));
    const size_t bytes = count * strata::dtypeSize(datatype);
    STRATA_CHECK(checkBuf(name, blockName, block, bytes));
    if (c.rank() != root) return Status::ok();  // the whole buffer is the root's only
    const size_t total = bytes * static_cast<size_t>(c.nranks());
    const std::string onRoot = std::string(wholeName) + " (on the root)";
    STRATA_CHECK(checkBuf(name, onRoot.c_str(), whole, total));
    a.inPlace = isPartOf(block, bytes, whole, bytes * static_cast<size_t>(root));
    if (!a.inPlace && overlaps(block, bytes, whole, total))
      return makeError(strataInvalidArgument,
                       "%s: %s overlaps %s on the root (in place is %s == %s + root*count)", name,
                       blockName, wholeName, blockName, wholeName);
    return Status::ok();
  });
}

}  // namespace

extern "C" {

strataResult_t strataAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                               strataDataType_t datatype, strataRedOp_t op, strataComm_t comm,
                               strataStream_t stream) {
  const char* name = "strataAllReduce";
  CollArgs a = collArgs(CollType::kAllReduce, sendbuff, recvbuff, count, datatype);
  a.op = op;
  a.inPlace = sendbuff == recvbuff;
  return submitTyped(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(resolveReduceOp(name, op, datatype, c, a));
    size_t bytes = 0;
    return checkSendRecv(name, count, 1, datatype, sendbuff, recvbuff, &bytes);
  });
}

namespace {

// strataBroadcast and strataBcast: `name`, and the names their errors give the two buffers.
strataResult_t broadcastAs(const char* name, const char* sendName, const char* recvName,
                           const void* sendbuff, void* recvbuff, size_t count,
                           strataDataType_t datatype, int root, strataComm_t comm,
                           strataStream_t stream) {
  CollArgs a = collArgs(CollType::kBroadcast, sendbuff, recvbuff, count, datatype);
  a.root = root;
  a.inPlace = sendbuff == recvbuff;
  return submitTyped(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkRank(name, "root", root, c.nranks()));
    STRATA_CHECK(checkCount(name, "count", count, 1, datatype));
    const size_t bytes = count * strata::dtypeSize(datatype);
    if (c.rank() == root) STRATA_CHECK(checkBuf(name, sendName, sendbuff, bytes));
    return checkBuf(name, recvName, recvbuff, bytes);
  });
}

}  // namespace

strataResult_t strataBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                               strataDataType_t datatype, int root, strataComm_t comm,
                               strataStream_t stream) {
  return broadcastAs("strataBroadcast", "sendbuff (on the root)", "recvbuff", sendbuff, recvbuff,
                     count, datatype, root, comm, stream);
}

strataResult_t strataBcast(void* buff, size_t count, strataDataType_t datatype, int root,
                           strataComm_t comm, strataStream_t stream) {
  return broadcastAs("strataBcast", "buff (on the root)", "buff", buff, buff, count, datatype, root,
                     comm, stream);
}

strataResult_t strataReduce(const void* sendbuff, void* recvbuff, size_t count,
                            strataDataType_t datatype, strataRedOp_t op, int root,
                            strataComm_t comm, strataStream_t stream) {
  const char* name = "strataReduce";
  CollArgs a = collArgs(CollType::kReduce, sendbuff, recvbuff, count, datatype);
  a.op = op;
  a.root = root;
  a.inPlace = sendbuff == recvbuff;
  return submitTyped(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(resolveReduceOp(name, op, datatype, c, a));
    STRATA_CHECK(checkRank(name, "root", root, c.nranks()));
    STRATA_CHECK(checkCount(name, "count", count, 1, datatype));
    const size_t bytes = count * strata::dtypeSize(datatype);
    STRATA_CHECK(checkBuf(name, "sendbuff", sendbuff, bytes));
    if (c.rank() == root) return checkBuf(name, "recvbuff (on the root)", recvbuff, bytes);
    return Status::ok();
  });
}

strataResult_t strataGather(const void* sendbuff, void* recvbuff, size_t count,
                            strataDataType_t datatype, int root, strataComm_t comm,
                            strataStream_t stream) {
  return rootedCall("strataGather", CollType::kGather, sendbuff, recvbuff, count, datatype, root,
                    comm, stream);
}

strataResult_t strataScatter(const void* sendbuff, void* recvbuff, size_t count,
                             strataDataType_t datatype, int root, strataComm_t comm,
                             strataStream_t stream) {
  return rootedCall("strataScatter", CollType::kScatter, sendbuff, recvbuff, count, datatype,
                    root, comm, stream);
}

strataResult_t strataAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                               strataDataType_t datatype, strataComm_t comm,
                               strataStream_t stream) {
  const char* name = "strataAllGather";
  CollArgs a = collArgs(CollType::kAllGather, sendbuff, recvbuff, sendcount, datatype);
  return submitTyped(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkCount(name, "sendcount", sendcount, static_cast<size_t>(c.nranks()), datatype));
    return checkGatherBufs(name, c.rank(), c.nranks(), sendbuff, recvbuff,
                           sendcount * strata::dtypeSize(datatype), &a.inPlace);
  });
}

strataResult_t strataAllGatherv(const void* sendbuff, size_t sendcount, void* recvbuff,
                                const size_t* recvcounts, const size_t* rdispls,
                                strataDataType_t datatype, strataComm_t comm,
                                strataStream_t stream) {
  const char* name = "strataAllGatherv";
  CollArgs a = collArgs(CollType::kAllGatherv, sendbuff, recvbuff, sendcount, datatype);
  return submitTyped(name, comm, stream, a, [&](Comm& c) {
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
    a.inPlace = isPartOf(sendbuff, sendcount * es, recvbuff, rdispls[me] * es);
    return Status::ok();
  });
}

strataResult_t strataReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                   strataDataType_t datatype, strataRedOp_t op, strataComm_t comm,
                                   strataStream_t stream) {
  const char* name = "strataReduceScatter";
  CollArgs a = collArgs(CollType::kReduceScatter, sendbuff, recvbuff, recvcount, datatype);
  a.op = op;
  return submitTyped(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(resolveReduceOp(name, op, datatype, c, a));
    STRATA_CHECK(checkCount(name, "recvcount", recvcount, static_cast<size_t>(c.nranks()), datatype));
    const size_t bytes = recvcount * strata::dtypeSize(datatype);
    STRATA_CHECK(checkBuf(name, "sendbuff", sendbuff, bytes * static_cast<size_t>(c.nranks())));
    STRATA_CHECK(checkBuf(name, "recvbuff", recvbuff, bytes));
    a.inPlace = isPartOf(recvbuff, bytes, sendbuff, bytes * static_cast<size_t>(c.rank()));
    return Status::ok();
  });
}

strataResult_t strataAllToAll(const void* sendbuff, void* recvbuff, size_t count,
                              strataDataType_t datatype, strataComm_t comm, strataStream_t stream) {
  const char* name = "strataAllToAll";
  CollArgs a = collArgs(CollType::kAllToAll, sendbuff, recvbuff, count, datatype);
  a.inPlace = sendbuff == recvbuff;
  return submitTyped(name, comm, stream, a, [&](Comm& c) {
    size_t bytes = 0;
    STRATA_CHECK(checkSendRecv(name, count, static_cast<size_t>(c.nranks()), datatype, sendbuff,
                               recvbuff, &bytes));
    return checkApart(name, sendbuff, bytes, recvbuff, bytes, a.inPlace);
  });
}

strataResult_t strataAllToAllv(const void* sendbuff, const size_t* sendcounts,
                               const size_t* sdispls, void* recvbuff, const size_t* recvcounts,
                               const size_t* rdispls, strataDataType_t datatype, strataComm_t comm,
                               strataStream_t stream) {
  const char* name = "strataAllToAllv";
  CollArgs a = collArgs(CollType::kAllToAllv, sendbuff, recvbuff, 0, datatype);
  a.inPlace = sendbuff == recvbuff;
  return submitTyped(name, comm, stream, a, [&](Comm& c) {
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
    return checkApart(name, sendbuff, sendExtent * es, recvbuff, recvExtent * es, a.inPlace);
  });
}

}  // extern "C"

namespace {

// Send and Recv differ only in which buffer they name.
strataResult_t pointToPoint(const char* name, CollType coll, void* buf, size_t count,
                            strataDataType_t datatype, int peer, strataComm_t comm,
                            strataStream_t stream) {
  const bool sends = coll == CollType::kSend;
  CollArgs a = collArgs(coll, sends ? buf : nullptr, sends ? nullptr : buf, count, datatype);
  a.peer = peer;
  return submitTyped(name, comm, stream, a, [&](Comm& c) {
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
  CollArgs a = collArgs(CollType::kBarrier, nullptr, nullptr, 0, strataUint8);
  return submitTyped("strataBarrier", comm, stream, a, [](Comm&) { return Status::ok(); });
}

}  // extern "C"
