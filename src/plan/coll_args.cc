#include "plan/coll_args.h"

#include "base/dtype.h"
#include "base/quant_format.h"

namespace strata {

const char* collName(CollType c) {
  switch (c) {
    case CollType::kAllReduce: return "AllReduce";
    case CollType::kBroadcast: return "Broadcast";
    case CollType::kReduce: return "Reduce";
    case CollType::kAllGather: return "AllGather";
    case CollType::kAllGatherv: return "AllGatherv";
    case CollType::kReduceScatter: return "ReduceScatter";
    case CollType::kAllToAll: return "AllToAll";
    case CollType::kAllToAllv: return "AllToAllv";
    case CollType::kSend: return "Send";
    case CollType::kRecv: return "Recv";
    case CollType::kBarrier: return "Barrier";
    case CollType::kAllGatherQuantized: return "AllGatherQuantized";
    case CollType::kAllReduceFused: return "AllReduceFused";
    case CollType::kGather: return "Gather";
    case CollType::kScatter: return "Scatter";
  }
  return "?";
}

const char* collKey(CollType c) {
  switch (c) {
    case CollType::kAllReduce: return "allreduce";
    case CollType::kBroadcast: return "broadcast";
    case CollType::kReduce: return "reduce";
    case CollType::kAllGather: return "allgather";
    case CollType::kAllGatherv: return "allgatherv";
    case CollType::kReduceScatter: return "reducescatter";
    case CollType::kAllToAll: return "alltoall";
    case CollType::kAllToAllv: return "alltoallv";
    case CollType::kSend: return "send";
    case CollType::kRecv: return "recv";
    case CollType::kBarrier: return "barrier";
    case CollType::kAllGatherQuantized: return "allgatherquantized";
    case CollType::kAllReduceFused: return "allreducefused";
    case CollType::kGather: return "gather";
    case CollType::kScatter: return "scatter";
  }
  return "?";
}

size_t CollArgs::messageBytes(int nranks) const {
  size_t es = dtypeSize(dtype);
  switch (coll) {
    case CollType::kAllGather:
    case CollType::kReduceScatter:
    case CollType::kGather:
    case CollType::kScatter:
    case CollType::kAllToAll: return count * es * static_cast<size_t>(nranks);
    case CollType::kAllGatherv: {
      size_t total = 0;
      for (size_t c : recvcounts) total += c;
      return total * es;
    }
    case CollType::kAllToAllv: {
      size_t total = 0;
      for (size_t c : sendcounts) total += c;
      return total * es;
    }
    case CollType::kBarrier: return 0;
    case CollType::kAllGatherQuantized:
      if (quant.mode == QuantMode::kRawPrequantized)
        return quantValueBytes(dtype, count) * static_cast<size_t>(nranks);
      return count * es * static_cast<size_t>(nranks);
    default: return count * es;
  }
}

}  // namespace strata
