// One collective or point-to-point call, as the C API received it (counts in elements).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "strata/strata.h"

namespace strata {

enum class CollType {
  kAllReduce,
  kBroadcast,
  kReduce,
  kAllGather,
  kAllGatherv,
  kReduceScatter,
  kAllToAll,
  kAllToAllv,
  kSend,
  kRecv,
  kBarrier,
  kAllGatherQuantized,  // strataAllGatherQuantized and its raw variants (QuantArgs)
  kAllReduceFused,      // strataAllReduceFused: ReduceScatter -> epilogue -> AllGather (FusedArgs)
  kGather,
  kScatter,
};
constexpr int kNumCollTypes = static_cast<int>(CollType::kScatter) + 1;

// What a quantised AllGather does with the values it gathers.
enum class QuantMode : unsigned char {
  kDequantize,     // strataAllGatherQuantized: every rank dequantises into recvbuff
  kRaw,            // strataAllGatherQuantizedRaw: values and scales land as they are
  kRawPrequantized,  // ...RawPrequantized: the input is values and scales already
};

// The quantised AllGather's part of a call (coll == kAllGatherQuantized): the format, the
// elements per scale and the mode. dtype is the source type (kRawPrequantized: the format's
// storage type, base/quant_format.h).
struct QuantArgs {
  strataQuant_t format = strataQuantInt8;
  size_t blockElems = 0;
  QuantMode mode = QuantMode::kDequantize;
  const float* sendScales = nullptr;  // kRawPrequantized
  float* recvScales = nullptr;        // kRaw, kRawPrequantized
};

// The fused AllReduce's part of a call (coll == kAllReduceFused): the epilogue bound as the
// plan's callback 0, the row length shards fall on, and the gather's format.
struct FusedArgs {
  void (*epilogue)(void* shard, size_t elemOffset, size_t elemCount, strataDataType_t dtype,
                   void* user) = nullptr;
  void* user = nullptr;
  size_t rowElems = 0;  // 0: no rows (one callback on the whole shard)
  bool quantized = false;
  strataQuant_t quant = strataQuantInt8;
};

// A pre-multiplied sum (strataRedOpCreatePreMulSum) of an AllReduce, Reduce or ReduceScatter:
// the call's op is then strataSum and each rank multiplies its input by its scalar first. The
// scalar (one element of the call's dtype) is `value`, copied when the call was made, or read
// through `device` when the call runs.
struct PreMulArgs {
  bool on = false;
  const void* device = nullptr;  // strataScalarDevice: the caller's pointer
  alignas(8) unsigned char value[8] = {};  // strataScalarHostImmediate: the scalar's bytes
  const void* scalar() const { return device ? device : value; }
};

// "AllReduce", "Broadcast", ... as the API names them.
const char* collName(CollType c);
// "allreduce", "broadcast", ... as tune strings name them.
const char* collKey(CollType c);

struct CollArgs {
  CollType coll = CollType::kAllReduce;
  const void* sendbuff = nullptr;
  void* recvbuff = nullptr;
  // AllReduce/Broadcast/Reduce: elements; AllGather: per-rank send count; ReduceScatter: per-rank
  // receive count; AllToAll: elements per peer; Send/Recv: elements; AllGatherv: own send count;
  // Gather/Scatter: elements per rank (the root's buffer holds nranks x count).
  size_t count = 0;
  strataDataType_t dtype = strataFloat32;
  strataRedOp_t op = strataSum;
  int root = 0;  // Broadcast, Reduce, Gather, Scatter
  int peer = -1;  // Send, Recv
  // The call follows the collective's in-place rule (NCCL's: e.g. AllGather in place when
  // sendbuff == recvbuff + rank * sendcount). Part of the plan's shape.
  bool inPlace = false;
  // AllToAllv (send*/recv*) and AllGatherv (recv*), copied from the caller's arrays.
  std::vector<size_t> sendcounts, sdispls, recvcounts, rdispls;
  // AllToAllv under an algorithm that needs them (Algorithm::needsGroupCounts): the sendcounts
  // of every rank of this rank's level-0 group, in ascending rank order, nranks each. Filled by
  // the planner from the runtime's exchange; empty when pricing.
  std::vector<size_t> groupSendCounts;
  // The same ranks' send displacements, laid out alike (the direct AllToAllv reads its block of
  // each peer's send buffer at the peer's displacement).
  std::vector<size_t> groupSendDispls;
  QuantArgs quant;  // kAllGatherQuantized
  FusedArgs fused;  // kAllReduceFused
  PreMulArgs premul;  // AllReduce, Reduce, ReduceScatter with a pre-multiplied sum
  // Set by the runtime when every buffer of the call lies in a registered window (Broadcast: the
  // receive buffer), so direct algorithms may read and write other ranks' buffers: rank r's
  // send (receive) buffer is sendPeers[r] + sendOffset (recvPeers[r] + recvOffset). Part of
  // the plan's shape.
  bool windowed = false;
  std::byte* const* sendPeers = nullptr;
  size_t sendOffset = 0;
  std::byte* const* recvPeers = nullptr;
  size_t recvOffset = 0;

  // The size of the call's data in bytes, as nccl-tests' `size` column reports it: the whole
  // buffer that is reduced, gathered, scattered or exchanged. AllReduce, Broadcast, Reduce,
  // Send, Recv: count elements; AllGather, ReduceScatter, Gather and Scatter: count x nranks
  // (the gathered output, the scattered input); AllToAll: count x nranks; AllGatherv: the sum of recvcounts;
  // AllToAllv: the sum of this rank's sendcounts; Barrier: 0; the quantised AllGather: the
  // gathered output in the source type (what a plain AllGather of that type moves), or for a
  // prequantised input the gathered values. The one size everything uses:
  // tune-string ranges, algorithm estimates and the statistics' callBytes.
  size_t messageBytes(int nranks) const;
};

// Everything a call's plan depends on but its buffers: the key plans are cached and reused by.
struct CallKey {
  CollType coll;
  size_t count;
  strataDataType_t dtype;
  strataRedOp_t op;
  int root;
  int peer;
  bool inPlace;
  bool windowed = false;
  int quantFormat = 0;  // the quantised AllGather's format, block size and mode
  size_t quantBlock = 0;
  int quantMode = 0;
  size_t fusedRow = 0;  // the fused AllReduce's row length and gather format (-1: unquantised)
  int fusedQuant = -1;
  bool preMul = false;  // a pre-multiplied sum (PreMulArgs)
  auto operator<=>(const CallKey&) const = default;
  bool operator==(const CallKey&) const = default;
};

// The call's key; none for AllGatherv/AllToAllv, whose plans depend on count arrays. Inline:
// every call compares its key with the prepared one.
inline std::optional<CallKey> callKey(const CollArgs& a) {
  if (a.coll == CollType::kAllGatherv || a.coll == CollType::kAllToAllv) return std::nullopt;
  CallKey k{a.coll, a.count, a.dtype, a.op, a.root, a.peer, a.inPlace, a.windowed};
  k.preMul = a.premul.on;
  if (a.coll == CollType::kAllGatherQuantized) {
    k.quantFormat = static_cast<int>(a.quant.format);
    k.quantBlock = a.quant.blockElems;
    k.quantMode = static_cast<int>(a.quant.mode);
  }
  if (a.coll == CollType::kAllReduceFused) {
    k.fusedRow = a.fused.rowElems;
    k.fusedQuant = a.fused.quantized ? static_cast<int>(a.fused.quant) : -1;
  }
  return k;
}

}  // namespace strata
