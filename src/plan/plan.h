// A plan: for one rank, a short program of phases. Ops inside a phase are independent and make
// progress together (so a ring step's send and receive overlap); a phase starts when the one
// before it has completed. Ops address buffers by slot (send, receive, scratch, staging, or an
// extra caller buffer) plus a byte offset, so one plan serves every call of the same shape.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace strata {

// Buffer slots a plan addresses. Slots from kFirstExtra on are extra caller buffers (fused
// Send/Recv of a group).
enum BufSlot : int {
  kSendBuf = 0,
  kRecvBuf = 1,
  kScratchBuf = 2,
  kStageInBuf = 3,   // float32 copy of the input for low-precision reductions
  kStageOutBuf = 4,  // float32 result before the final rounding
  kFirstExtraBuf = 5,
};

struct BufRef {
  int slot = kSendBuf;
  size_t offset = 0;  // bytes
};

enum class OpKind : unsigned char {
  kSend,         // push `bytes` at src to peer
  kRecv,         // receive `bytes` from peer into dst
  kRecvReduce,   // dst = src op incoming, `bytes` from peer (dst may equal src)
  kRecvReduceSend,  // kRecvReduce, forwarding dst to peer2 chunk by chunk as it is reduced
  kRecvCopySend,    // kRecv, forwarding dst to peer2 chunk by chunk as it lands
  kCopy,         // dst = src (local)
  kReduceLocal,  // dst = src op src2 (local)
  kWiden,        // dst(float32) = src(userDtype), `elems` elements
  kNarrow,       // dst(userDtype) = src(float32), `elems` elements
  kDivide,       // dst(dtype of the plan's output) /= nranks, `elems` elements
};

struct Op {
  OpKind kind = OpKind::kCopy;
  int peer = -1;
  int peer2 = -1;  // forwarding ops: where the received data goes on to
  // Reducing receives: reduce as incoming op local instead of local op incoming, so two ranks
  // can put the operands in the same (rank) order and get bit-identical results.
  bool incomingFirst = false;
  BufRef src, src2, dst;
  size_t bytes = 0;  // communication and copy/reduce size
  size_t elems = 0;  // widen/narrow/divide size
  strataDataType_t divideType = strataFloat32;
};

struct Phase {
  std::vector<Op> ops;
};

struct Plan {
  std::string algo;                          // algorithm that emitted it, for logs and errors
  strataDataType_t dtype = strataFloat32;    // type of the elements ops move and reduce
  strataDataType_t userDtype = strataFloat32;
  strataRedOp_t op = strataSum;              // Avg appears as Sum plus a kDivide op
  int nranks = 1;
  std::vector<Phase> phases;
  size_t scratchBytes = 0;
  size_t stageInBytes = 0;
  size_t stageOutBytes = 0;
  int extraSlots = 0;  // number of extra caller buffers (kFirstExtraBuf...)

  size_t opCount() const;
};

using PlanPtr = std::shared_ptr<const Plan>;

// Emits ops phase by phase. Zero-byte ops and empty phases are dropped.
class PlanBuilder {
 public:
  explicit PlanBuilder(Plan& plan) : plan_(plan) {}

  // Closes the current phase and starts a new one.
  PlanBuilder& nextPhase();

  void send(int peer, BufRef src, size_t bytes);
  void recv(int peer, BufRef dst, size_t bytes);
  void recvReduce(int peer, BufRef dst, BufRef local, size_t bytes, bool incomingFirst = false);
  void recvReduceSend(int from, int to, BufRef dst, BufRef local, size_t bytes);
  void recvCopySend(int from, int to, BufRef dst, size_t bytes);
  void copy(BufRef src, BufRef dst, size_t bytes);
  void reduceLocal(BufRef dst, BufRef a, BufRef b, size_t bytes);
  void widen(BufRef src, BufRef dst, size_t elems);
  void narrow(BufRef src, BufRef dst, size_t elems);
  void divide(BufRef dst, size_t elems, strataDataType_t type);

  // Finishes the plan (drops a trailing empty phase).
  void finish();

 private:
  void add(const Op& op);
  Plan& plan_;
  bool open_ = false;
};

inline BufRef sendAt(size_t off) { return {kSendBuf, off}; }
inline BufRef recvAt(size_t off) { return {kRecvBuf, off}; }
inline BufRef scratchAt(size_t off) { return {kScratchBuf, off}; }

}  // namespace strata
