// The plan IR: the contract every algorithm and technique is written in. A plan is one rank's
// program for one call shape: a list of phases, each a list of ops over buffer slots that are
// bound at run time (user buffers, scratch, scales, extra caller buffers, callbacks), so one
// cached plan serves every call of its shape. docs/architecture.md walks through an example.
//
// What runs concurrently and what is ordered, exactly:
//  1. Phases run one after another: a phase starts once every op of the one before it has
//     completed (a phase end is a full barrier of this rank's program, not of the ranks).
//  2. Inside a phase, an op starts once every op it names in `after` has completed; an op with
//     no `after` starts with the phase. Ops that have started make progress together (a ring
//     step's send and receive overlap; a forwarding op sends on what it has received so far).
//  3. Channel order: messages between two ranks travel in one FIFO per direction. The send-side
//     ops of a phase towards one peer (send, put, signal and the forwarding half of the
//     forwarding ops) move their bytes in op order, and so do the receive-side ops from one peer
//     (recv, recvReduce and the receiving half of the forwarding ops): a later op on a channel
//     never moves bytes before an earlier one on that channel has moved all of its bytes, and an
//     op still waiting for its `after` holds up the later ops of its channels. This is what
//     matches the n-th message a rank sends to a peer with the n-th receive that peer posts.
//  4. Signals travel on the same FIFO, behind the messages and puts posted before them: when a
//     wait for a signal completes, every byte the signalling rank sent or put to this rank
//     before the signal has landed. A wait is not a channel op: it completes whenever its signal
//     has arrived, so a plan receives the messages sent before a signal (in an earlier op on
//     that channel, or an `after` the wait names) before it relies on the signal.
//  5. Local ops (copy, reduceLocal, transform, divide, callback) run once, when they start.
// Nothing else is ordered: two ops without an `after` between them and not on one channel may
// run in any order, so an op that reads what another writes must name it in `after`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace strata {

// Buffer slots a plan addresses. Slots from kFirstExtraBuf on are extra caller buffers (fused
// Send/Recv of a group).
enum BufSlot : int {
  kSendBuf = 0,
  kRecvBuf = 1,
  kScratchBuf = 2,
  kStageInBuf = 3,   // float32 copy of the input (STRATA_REDUCE_PRECISION=float32)
  kStageOutBuf = 4,  // float32 result before the final rounding
  kScalesBuf = 5,    // float32 block scales of quantising transforms
  // This call's flag slot (small calls on shared memory): the data area next to each rank's
  // flag in the transport's control segment, addressable for every rank (BufRef::rank).
  kFlagBuf = 6,
  kFirstExtraBuf = 7,
};

// Which rank's buffer a BufRef names. A peer's send or receive buffer is addressable when the
// call's buffers lie in registered windows (strataCommWindowRegister): a copy into it is a put,
// a copy or reduction from it a direct read.
inline constexpr int kThisRank = -1;
inline constexpr int kEveryRank = -2;  // kReduceLocal src: the slot of ranks 0..nsrc-1, in order

struct BufRef {
  int slot = kSendBuf;
  size_t offset = 0;     // bytes
  int rank = kThisRank;  // >= 0: that rank's buffer (kSendBuf, kRecvBuf only)
};

enum class OpKind : unsigned char {
  kSend,            // push `bytes` at src to peer
  kRecv,            // receive `bytes` from peer into dst
  kRecvReduce,      // dst = src op incoming, `bytes` from peer (dst may equal src)
  kRecvReduceSend,  // kRecvReduce, forwarding dst to peer2 chunk by chunk as it is reduced
  kRecvCopySend,    // kRecv, forwarding dst to peer2 chunk by chunk as it lands
  kCopy,            // dst = src (local), `bytes`
  kReduceLocal,     // dst = src op src+stride op ... (nsrc operands) or dst = src op src2
  kTransform,       // dst(dstType) = kernel(src(dtype)), `elems` elements (TransformKind)
  kDivide,          // dst(dtype) /= nranks, `elems` elements (the one division of Avg)
  kCallback,        // calls callback slot `index` on dst, `elems` elements of dtype
  kSignal,          // posts one signal on channel `index` to peer (behind earlier sends)
  kWait,            // consumes one signal on channel `index` from peer
  kPut,             // one-sided write of `bytes` at src into peer's window `index` at dstOffset
  kRecvDequantize,  // kRecv of `bytes` quantised values (dtype) from peer, dequantised chunk by
                    // chunk as they land into dst (dstType, `elems` elements) with the block
                    // scales at `scales`: no copy of the values lands anywhere else
  kFlagPost,        // copies `bytes` at src (none when 0) into this rank's flag slot (kFlagBuf)
                    // and raises its flag to the call's sequence number, in one go: the slot's
                    // cache line is written once, not once per op, while peers poll it
  kFlagWait,        // waits until peer's flag reaches the call's sequence number; its flag slot
                    // then holds what the peer wrote for this call
};

// What a kTransform applies (kernels in reduce/).
enum class TransformKind : unsigned char {
  kConvert,     // element by element, dtype -> dstType (rounding to nearest even)
  kQuantize,    // dtype -> dstType (int8, fp8) with one float32 scale per block into `scales`
  kDequantize,  // dtype (int8, fp8) with its block scales -> dstType
  kPreMultiply,  // dtype -> dstType times the one dtype scalar at `scales` (a pre-multiplied sum)
};

// Flag plans (kFlagPost/kFlagWait, kFlagBuf): every rank of the call posts its flag once and
// waits for every peer's. Each rank has two flag slots and a call uses slot (sequence & 1), so a
// rank rewrites a slot only two calls later, once every peer has posted the call in between and
// so has finished reading it: no round resets the flags.

// Signal channels per pair of ranks.
inline constexpr int kSignalChannels = 16;

struct Op {
  OpKind kind = OpKind::kCopy;
  TransformKind transform = TransformKind::kConvert;
  // Reducing receives: reduce as incoming op local instead of local op incoming, so two ranks
  // can put the operands in the same (rank) order and get bit-identical results.
  bool incomingFirst = false;
  // kRecv: the message may be shorter than `bytes` (at most `bytes`, its size travels with its
  // chunks); the op completes once the whole message has landed. For receivers that reserve
  // worst-case space and learn the size from the data (MoE dispatch: no size exchange first).
  bool upTo = false;
  strataDataType_t dtype = strataUint8;     // element type the op reads (and reduces)
  strataDataType_t dstType = strataUint8;   // kTransform: element type it writes
  strataRedOp_t redop = strataSum;          // reducing ops (Avg appears as Sum + kDivide)
  int peer = -1;
  int peer2 = -1;   // forwarding ops: where the received data goes on to
  int index = 0;    // kSignal/kWait: channel; kCallback: callback slot; kPut: window;
                    // kFlagPost/kFlagWait: the call's root (-1: none)
  int nsrc = 2;     // kReduceLocal: operands; > 2 reads src, src + srcStride, ... (not src2)
  BufRef src, src2, dst;
  BufRef scales;           // kTransform quantise/dequantise: the block scales
  size_t bytes = 0;        // communication, copy and reduce size
  size_t elems = 0;        // transform, divide and callback size; kFlagPost/kFlagWait: the
                           // call's size in bytes, posted with the flag and checked
  size_t srcStride = 0;    // kReduceLocal with nsrc > 2: bytes between operands
  size_t blockElems = 0;   // quantise/dequantise: elements per scale
  size_t dstOffset = 0;    // kPut: byte offset in the peer's window
  std::vector<uint16_t> after;  // ops of this phase (indices) that must complete first
};

// Whether an op kind moves bytes on the send side / receive side of a channel (rule 3).
bool sendsOnChannel(OpKind k);
bool receivesOnChannel(OpKind k);
// "send", "recvReduce", ... for messages and dumps.
const char* opKindName(OpKind k);

struct Phase {
  std::vector<Op> ops;
};

struct Plan {
  std::string algo;  // algorithm that emitted it, for logs and errors
  // What chose the algorithm ("tune string", "tune file", "model", "fallback"; static strings).
  const char* algoSource = "";
  int nranks = 1;
  std::vector<Phase> phases;
  size_t scratchBytes = 0;
  size_t stageInBytes = 0;
  size_t stageOutBytes = 0;
  size_t scalesBytes = 0;
  int extraSlots = 0;     // number of extra caller buffers (kFirstExtraBuf...)
  int callbackSlots = 0;  // callbacks the caller binds (kCallback index < callbackSlots)
  bool flags = false;     // posts and waits on flags: takes the next flag sequence number

  size_t opCount() const;
  // Checks the plan against the IR's rules (peers in range, `after` naming earlier ops of the
  // same phase, slots and indices in range); InvalidArgument names the op.
  std::string validate() const;
};

using PlanPtr = std::shared_ptr<const Plan>;

// An op's position in the plan, returned by the builder for `after` lists.
using OpId = uint16_t;

// Emits ops phase by phase, each with the element type and reduction operator the builder was
// given (per-op types: set them again with types() between ops). Zero-size ops are dropped
// (their OpId is kNoOp, which `after` lists skip); empty phases are dropped.
class PlanBuilder {
 public:
  static constexpr OpId kNoOp = 0xffff;

  PlanBuilder(Plan& plan, strataDataType_t dtype = strataUint8, strataRedOp_t redop = strataSum)
      : plan_(plan), dtype_(dtype), redop_(redop) {}

  // The element type and operator of the ops emitted from now on.
  PlanBuilder& types(strataDataType_t dtype, strataRedOp_t redop = strataSum);
  // Closes the current phase and starts a new one.
  PlanBuilder& nextPhase();

  using After = std::initializer_list<OpId>;
  OpId send(int peer, BufRef src, size_t bytes, After after = {});
  OpId recv(int peer, BufRef dst, size_t bytes, After after = {});
  // A receive of one message of at most `bytes` (Op::upTo).
  OpId recvUpTo(int peer, BufRef dst, size_t bytes, After after = {});
  OpId recvReduce(int peer, BufRef dst, BufRef local, size_t bytes, bool incomingFirst = false,
                  After after = {});
  OpId recvReduceSend(int from, int to, BufRef dst, BufRef local, size_t bytes);
  OpId recvCopySend(int from, int to, BufRef dst, size_t bytes);
  OpId copy(BufRef src, BufRef dst, size_t bytes, After after = {});
  OpId reduceLocal(BufRef dst, BufRef a, BufRef b, size_t bytes, After after = {});
  // dst = first op first+stride op ... over `count` operands, accumulated in float32 for the
  // low-precision types and rounded once.
  OpId reduceMany(BufRef dst, BufRef first, size_t stride, int count, size_t bytes,
                  After after = {});
  // dst = src of rank 0 op src of rank 1 op ... over nranks ranks' buffers (windows), in rank
  // order so every rank computes bit-identical results; rounds low precision once.
  OpId reduceAcrossRanks(BufRef dst, BufRef src, int nranks, size_t bytes, After after = {});
  OpId convert(BufRef src, strataDataType_t from, BufRef dst, strataDataType_t to, size_t elems,
               After after = {});
  OpId quantize(BufRef src, strataDataType_t from, BufRef dst, strataDataType_t to,
                BufRef scales, size_t blockElems, size_t elems, After after = {});
  OpId dequantize(BufRef src, strataDataType_t from, BufRef scales, size_t blockElems,
                  BufRef dst, strataDataType_t to, size_t elems, After after = {});
  // dst(to) = src(from) x the scalar (one element of `from`) at `scalar`, `elems` elements:
  // low-precision types multiply in float32 (rounded once when `to` is narrow), integers wrap.
  OpId preMultiply(BufRef src, strataDataType_t from, BufRef scalar, BufRef dst,
                   strataDataType_t to, size_t elems, After after = {});
  OpId divide(BufRef dst, size_t elems, After after = {});
  OpId callback(int index, BufRef range, size_t elems, After after = {});
  OpId signal(int peer, int channel, After after = {});
  // `bytes`: what the signal announces (puts it covers), for the sim's timing; 0 for a plain
  // synchronisation.
  OpId wait(int peer, int channel, size_t bytes = 0, After after = {});
  OpId put(int peer, int window, size_t dstOffset, BufRef src, size_t bytes, After after = {});
  // Flags (small calls on shared memory): post this rank's flag; wait for peer's.
  // `callBytes` and `root` (-1: none) travel with the flag and must match on every rank; the
  // post copies `bytes` at src into this rank's flag slot first (bytes 0: nothing).
  OpId flagPost(BufRef src, size_t bytes, size_t callBytes, int root, After after = {});
  OpId flagWait(int peer, size_t callBytes, int root, After after = {});
  // Receives `elems` quantised values of `from` (int8, packed int4, fp8; their bytes on the
  // wire) from peer and writes them dequantised as `to` into dst with the block scales at
  // `scales` (which must have landed: name their receive in `after`, or receive them earlier on
  // the same channel).
  OpId recvDequantize(int peer, strataDataType_t from, BufRef scales, size_t blockElems,
                      BufRef dst, strataDataType_t to, size_t elems, size_t bytes,
                      After after = {});

  // Finishes the plan (drops a trailing empty phase).
  void finish();

 private:
  OpId add(Op op, After after);
  Op make(OpKind kind) const;
  OpId transformOp(TransformKind kind, BufRef src, strataDataType_t from, BufRef dst,
                   strataDataType_t to, BufRef scales, size_t blockElems, size_t elems,
                   After after);
  Plan& plan_;
  strataDataType_t dtype_;
  strataRedOp_t redop_;
  bool open_ = false;
};

inline BufRef sendAt(size_t off) { return {kSendBuf, off}; }
inline BufRef recvAt(size_t off) { return {kRecvBuf, off}; }
inline BufRef scratchAt(size_t off) { return {kScratchBuf, off}; }
inline BufRef scalesAt(size_t off) { return {kScalesBuf, off}; }
inline BufRef flagAt(size_t off) { return {kFlagBuf, off}; }
// The same buffer and offset of rank `rank` (kEveryRank: of every rank, as reduction operands).
inline BufRef ofRank(BufRef r, int rank) {
  r.rank = rank;
  return r;
}

}  // namespace strata
