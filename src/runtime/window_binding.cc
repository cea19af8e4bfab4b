#include "runtime/window_binding.h"

#include <algorithm>

#include "base/dtype.h"

namespace strata {
namespace {

// The bytes of the send and receive buffers the call touches on this rank.
void spans(const CollArgs& a, int n, size_t& sendBytes, size_t& recvBytes) {
  const size_t es = dtypeSize(a.dtype);
  const size_t un = static_cast<size_t>(n);
  sendBytes = recvBytes = 0;
  switch (a.coll) {
    case CollType::kAllReduce:
      sendBytes = recvBytes = a.count * es;
      break;
    case CollType::kBroadcast:
      recvBytes = a.count * es;
      break;
    case CollType::kAllGather:
      sendBytes = a.count * es;
      recvBytes = un * a.count * es;
      break;
    case CollType::kReduceScatter:
      sendBytes = un * a.count * es;
      recvBytes = a.count * es;
      break;
    case CollType::kAllToAll:
      sendBytes = recvBytes = un * a.count * es;
      break;
    case CollType::kAllToAllv:
      // The extents the counts and displacements reach (each rank's own; windows must hold
      // every rank's at the same offset, as for every windowed call).
      for (size_t i = 0; i < a.sendcounts.size(); ++i)
        sendBytes = std::max(sendBytes, (a.sdispls[i] + a.sendcounts[i]) * es);
      for (size_t i = 0; i < a.recvcounts.size(); ++i)
        recvBytes = std::max(recvBytes, (a.rdispls[i] + a.recvcounts[i]) * es);
      if (sendBytes == 0) sendBytes = 1;  // sends nothing: still a buffer in a window
      break;
    case CollType::kReduce:
    case CollType::kAllGatherv:
    case CollType::kSend:
    case CollType::kRecv:
    case CollType::kBarrier:
    case CollType::kAllGatherQuantized:
    case CollType::kAllReduceFused:
    case CollType::kGather:
    case CollType::kScatter:
      break;
  }
}

}  // namespace

void markWindowed(Comm& comm, CollArgs& a) {
  a.windowed = false;
  a.sendPeers = a.recvPeers = nullptr;
  if (comm.windows().size() == 0 || !comm.planner().shape().windows) return;
  if (a.count == 0 && a.coll != CollType::kAllToAllv) return;  // AllToAllv: counts per peer
  size_t sendBytes = 0, recvBytes = 0;
  spans(a, comm.nranks(), sendBytes, recvBytes);
  if (recvBytes == 0) return;
  // AllToAllv's extents differ between ranks: peers' ranges need only hold the offset (the same
  // decision on every rank whose buffers lie in its windows, whatever their sizes).
  const bool ownExtent = a.coll == CollType::kAllToAllv;
  const WindowSpan recv = comm.windows().find(a.recvbuff, recvBytes, ownExtent ? 1 : recvBytes);
  if (!recv.window) return;
  if (sendBytes > 0) {
    const WindowSpan send =
        comm.windows().find(a.sendbuff, sendBytes, ownExtent ? 1 : sendBytes);
    if (!send.window) return;
    a.sendPeers = send.window->peerBase.data();
    a.sendOffset = send.offset;
  }
  a.recvPeers = recv.window->peerBase.data();
  a.recvOffset = recv.offset;
  a.windowed = true;
}

void bindPeers(RunItem& item, const CollArgs& a, int nranks) {
  if (!a.windowed) {
    item.peerSend.clear();
    item.peerRecv.clear();
    return;
  }
  const size_t n = static_cast<size_t>(nranks);
  item.peerSend.resize(n);
  item.peerRecv.resize(n);
  for (size_t r = 0; r < n; ++r) {
    item.peerSend[r] = a.sendPeers ? a.sendPeers[r] + a.sendOffset : nullptr;
    item.peerRecv[r] = a.recvPeers[r] + a.recvOffset;
  }
}

void holdWindows(Comm& comm, const CollArgs& a, int delta) {
  if (!a.windowed) return;
  for (const void* p :
       {static_cast<const void*>(a.sendbuff), static_cast<const void*>(a.recvbuff)}) {
    if (!p) continue;
    const WindowSpan s = comm.windows().find(p, 1);
    if (s.window) s.window->queued.fetch_add(delta);
  }
}

}  // namespace strata
