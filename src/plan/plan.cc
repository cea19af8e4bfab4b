#include "plan/plan.h"

#include "base/dtype.h"
#include "base/status.h"

namespace strata {

bool sendsOnChannel(OpKind k) {
  switch (k) {
    case OpKind::kSend:
    case OpKind::kRecvReduceSend:
    case OpKind::kRecvCopySend:
    case OpKind::kSignal:
    case OpKind::kPut:
      return true;
    case OpKind::kRecv:
    case OpKind::kRecvReduce:
    case OpKind::kRecvDequantize:
    case OpKind::kCopy:
    case OpKind::kReduceLocal:
    case OpKind::kTransform:
    case OpKind::kDivide:
    case OpKind::kCallback:
    case OpKind::kWait:
    case OpKind::kFlagPost:
    case OpKind::kFlagWait:
      return false;
  }
  return false;
}

bool receivesOnChannel(OpKind k) {
  switch (k) {
    case OpKind::kRecv:
    case OpKind::kRecvReduce:
    case OpKind::kRecvReduceSend:
    case OpKind::kRecvCopySend:
    case OpKind::kRecvDequantize:
      return true;
    case OpKind::kSend:
    case OpKind::kCopy:
    case OpKind::kReduceLocal:
    case OpKind::kTransform:
    case OpKind::kDivide:
    case OpKind::kCallback:
    case OpKind::kSignal:
    case OpKind::kWait:
    case OpKind::kPut:
    case OpKind::kFlagPost:
    case OpKind::kFlagWait:
      return false;
  }
  return false;
}

const char* opKindName(OpKind k) {
  switch (k) {
    case OpKind::kSend: return "send";
    case OpKind::kRecv: return "recv";
    case OpKind::kRecvReduce: return "recvReduce";
    case OpKind::kRecvReduceSend: return "recvReduceSend";
    case OpKind::kRecvCopySend: return "recvCopySend";
    case OpKind::kCopy: return "copy";
    case OpKind::kReduceLocal: return "reduceLocal";
    case OpKind::kTransform: return "transform";
    case OpKind::kDivide: return "divide";
    case OpKind::kCallback: return "callback";
    case OpKind::kSignal: return "signal";
    case OpKind::kWait: return "wait";
    case OpKind::kPut: return "put";
    case OpKind::kRecvDequantize: return "recvDequantize";
    case OpKind::kFlagPost: return "flagPost";
    case OpKind::kFlagWait: return "flagWait";
  }
  return "?";
}

size_t Plan::opCount() const {
  size_t n = 0;
  for (const auto& p : phases) n += p.ops.size();
  return n;
}

std::string Plan::validate() const {
  const int slots = kFirstExtraBuf + extraSlots;
  for (size_t p = 0; p < phases.size(); ++p) {
    const std::vector<Op>& ops = phases[p].ops;
    for (size_t i = 0; i < ops.size(); ++i) {
      const Op& op = ops[i];
      auto bad = [&](const char* what) {
        return format("%s plan: phase %zu op %zu (%s): %s", algo.c_str(), p + 1, i,
                      opKindName(op.kind), what);
      };
      const bool peered = sendsOnChannel(op.kind) || receivesOnChannel(op.kind) ||
                          op.kind == OpKind::kWait || op.kind == OpKind::kFlagWait;
      if (peered && (op.peer < 0 || op.peer >= nranks)) return bad("peer out of range");
      const bool forwards = op.kind == OpKind::kRecvReduceSend || op.kind == OpKind::kRecvCopySend;
      if (forwards && (op.peer2 < 0 || op.peer2 >= nranks)) return bad("peer2 out of range");
      for (const BufRef* r : {&op.src, &op.src2, &op.dst, &op.scales}) {
        if (r->slot < 0 || r->slot >= slots) return bad("buffer slot out of range");
        if (r->rank == kThisRank) continue;
        if (r->rank < kEveryRank || r->rank >= nranks) return bad("buffer rank out of range");
        if (r->slot != kSendBuf && r->slot != kRecvBuf && r->slot != kFlagBuf)
          return bad("only send, receive and flag buffers of other ranks are addressable");
        const bool local = op.kind == OpKind::kCopy || op.kind == OpKind::kReduceLocal;
        if (!local) return bad("only copies and local reductions address other ranks' buffers");
        if (r->rank == kEveryRank &&
            (r != &op.src || op.kind != OpKind::kReduceLocal || op.nsrc != nranks))
          return bad("every rank's buffer is only a reduction's operand list over all ranks");
      }
      if ((op.kind == OpKind::kSignal || op.kind == OpKind::kWait) &&
          (op.index < 0 || op.index >= kSignalChannels))
        return bad("signal channel out of range");
      const bool flagOp = op.kind == OpKind::kFlagPost || op.kind == OpKind::kFlagWait;
      if (flagOp && !flags) return bad("a flag op in a plan not marked as using flags");
      if (op.kind == OpKind::kCallback && (op.index < 0 || op.index >= callbackSlots))
        return bad("callback slot out of range");
      if (op.kind == OpKind::kReduceLocal && op.nsrc < 2) return bad("fewer than 2 operands");
      if (op.kind == OpKind::kRecvDequantize && op.blockElems == 0)
        return bad("dequantising receive without a block size");
      for (uint16_t a : op.after)
        if (a >= i) return bad("`after` names an op that does not come before it in its phase");
    }
  }
  return {};
}

PlanBuilder& PlanBuilder::types(strataDataType_t dtype, strataRedOp_t redop) {
  dtype_ = dtype;
  redop_ = redop;
  return *this;
}

PlanBuilder& PlanBuilder::nextPhase() {
  if (!plan_.phases.empty() && plan_.phases.back().ops.empty()) return *this;
  plan_.phases.emplace_back();
  open_ = true;
  return *this;
}

Op PlanBuilder::make(OpKind kind) const {
  Op op;
  op.kind = kind;
  op.dtype = dtype_;
  op.redop = redop_;
  return op;
}

OpId PlanBuilder::add(Op op, After after) {
  if (!open_ || plan_.phases.empty()) {
    plan_.phases.emplace_back();
    open_ = true;
  }
  for (OpId a : after)
    if (a != kNoOp) op.after.push_back(a);
  std::vector<Op>& ops = plan_.phases.back().ops;
  ops.push_back(std::move(op));
  return static_cast<OpId>(ops.size() - 1);
}

OpId PlanBuilder::send(int peer, BufRef src, size_t bytes, After after) {
  if (bytes == 0) return kNoOp;
  Op op = make(OpKind::kSend);
  op.peer = peer;
  op.src = src;
  op.bytes = bytes;
  return add(std::move(op), after);
}

OpId PlanBuilder::recv(int peer, BufRef dst, size_t bytes, After after) {
  if (bytes == 0) return kNoOp;
  Op op = make(OpKind::kRecv);
  op.peer = peer;
  op.dst = dst;
  op.bytes = bytes;
  return add(std::move(op), after);
}

OpId PlanBuilder::recvUpTo(int peer, BufRef dst, size_t bytes, After after) {
  if (bytes == 0) return kNoOp;
  Op op = make(OpKind::kRecv);
  op.peer = peer;
  op.dst = dst;
  op.bytes = bytes;
  op.upTo = true;
  return add(std::move(op), after);
}

OpId PlanBuilder::recvReduce(int peer, BufRef dst, BufRef local, size_t bytes, bool incomingFirst,
                             After after) {
  if (bytes == 0) return kNoOp;
  Op op = make(OpKind::kRecvReduce);
  op.peer = peer;
  op.src = local;
  op.dst = dst;
  op.bytes = bytes;
  op.incomingFirst = incomingFirst;
  return add(std::move(op), after);
}

OpId PlanBuilder::recvReduceSend(int from, int to, BufRef dst, BufRef local, size_t bytes) {
  if (bytes == 0) return kNoOp;
  Op op = make(OpKind::kRecvReduceSend);
  op.peer = from;
  op.peer2 = to;
  op.src = local;
  op.dst = dst;
  op.bytes = bytes;
  return add(std::move(op), {});
}

OpId PlanBuilder::recvCopySend(int from, int to, BufRef dst, size_t bytes) {
  if (bytes == 0) return kNoOp;
  Op op = make(OpKind::kRecvCopySend);
  op.peer = from;
  op.peer2 = to;
  op.dst = dst;
  op.bytes = bytes;
  return add(std::move(op), {});
}

OpId PlanBuilder::copy(BufRef src, BufRef dst, size_t bytes, After after) {
  if (bytes == 0 || (src.slot == dst.slot && src.offset == dst.offset && src.rank == dst.rank))
    return kNoOp;
  Op op = make(OpKind::kCopy);
  op.src = src;
  op.dst = dst;
  op.bytes = bytes;
  return add(std::move(op), after);
}

OpId PlanBuilder::reduceLocal(BufRef dst, BufRef a, BufRef b, size_t bytes, After after) {
  if (bytes == 0) return kNoOp;
  Op op = make(OpKind::kReduceLocal);
  op.src = a;
  op.src2 = b;
  op.dst = dst;
  op.bytes = bytes;
  return add(std::move(op), after);
}

OpId PlanBuilder::reduceMany(BufRef dst, BufRef first, size_t stride, int count, size_t bytes,
                             After after) {
  if (bytes == 0) return kNoOp;
  if (count == 2) {
    return reduceLocal(dst, first, BufRef{first.slot, first.offset + stride}, bytes, after);
  }
  Op op = make(OpKind::kReduceLocal);
  op.src = first;
  op.srcStride = stride;
  op.nsrc = count;
  op.dst = dst;
  op.bytes = bytes;
  return add(std::move(op), after);
}

OpId PlanBuilder::reduceAcrossRanks(BufRef dst, BufRef src, int nranks, size_t bytes, After after) {
  if (bytes == 0) return kNoOp;
  Op op = make(OpKind::kReduceLocal);
  op.src = ofRank(src, kEveryRank);
  op.nsrc = nranks;
  op.dst = dst;
  op.bytes = bytes;
  return add(std::move(op), after);
}

OpId PlanBuilder::transformOp(TransformKind kind, BufRef src, strataDataType_t from, BufRef dst,
                              strataDataType_t to, BufRef scales, size_t blockElems,
                              size_t elems, After after) {
  if (elems == 0) return kNoOp;
  Op op = make(OpKind::kTransform);
  op.transform = kind;
  op.dtype = from;
  op.dstType = to;
  op.src = src;
  op.dst = dst;
  op.scales = scales;
  op.blockElems = blockElems;
  op.elems = elems;
  return add(std::move(op), after);
}

OpId PlanBuilder::convert(BufRef src, strataDataType_t from, BufRef dst, strataDataType_t to,
                          size_t elems, After after) {
  return transformOp(TransformKind::kConvert, src, from, dst, to, {}, 0, elems, after);
}

OpId PlanBuilder::quantize(BufRef src, strataDataType_t from, BufRef dst, strataDataType_t to,
                           BufRef scales, size_t blockElems, size_t elems, After after) {
  return transformOp(TransformKind::kQuantize, src, from, dst, to, scales, blockElems, elems,
                     after);
}

OpId PlanBuilder::dequantize(BufRef src, strataDataType_t from, BufRef scales, size_t blockElems,
                             BufRef dst, strataDataType_t to, size_t elems, After after) {
  return transformOp(TransformKind::kDequantize, src, from, dst, to, scales, blockElems, elems,
                     after);
}

OpId PlanBuilder::preMultiply(BufRef src, strataDataType_t from, BufRef scalar, BufRef dst,
                              strataDataType_t to, size_t elems, After after) {
  return transformOp(TransformKind::kPreMultiply, src, from, dst, to, scalar, 0, elems, after);
}

OpId PlanBuilder::divide(BufRef dst, size_t elems, After after) {
  if (elems == 0) return kNoOp;
  Op op = make(OpKind::kDivide);
  op.dst = dst;
  op.elems = elems;
  return add(std::move(op), after);
}

OpId PlanBuilder::callback(int index, BufRef range, size_t elems, After after) {
  if (elems == 0) return kNoOp;
  Op op = make(OpKind::kCallback);
  op.index = index;
  op.dst = range;
  op.elems = elems;
  if (index >= plan_.callbackSlots) plan_.callbackSlots = index + 1;
  return add(std::move(op), after);
}

OpId PlanBuilder::signal(int peer, int channel, After after) {
  Op op = make(OpKind::kSignal);
  op.peer = peer;
  op.index = channel;
  return add(std::move(op), after);
}

OpId PlanBuilder::wait(int peer, int channel, size_t bytes, After after) {
  Op op = make(OpKind::kWait);
  op.peer = peer;
  op.index = channel;
  op.bytes = bytes;
  return add(std::move(op), after);
}

OpId PlanBuilder::flagPost(BufRef src, size_t bytes, size_t callBytes, int root, After after) {
  plan_.flags = true;
  Op op = make(OpKind::kFlagPost);
  op.src = src;
  op.bytes = bytes;
  op.elems = callBytes;
  op.index = root;
  return add(std::move(op), after);
}

OpId PlanBuilder::flagWait(int peer, size_t callBytes, int root, After after) {
  plan_.flags = true;
  Op op = make(OpKind::kFlagWait);
  op.peer = peer;
  op.elems = callBytes;
  op.index = root;
  return add(std::move(op), after);
}

OpId PlanBuilder::put(int peer, int window, size_t dstOffset, BufRef src, size_t bytes,
                      After after) {
  if (bytes == 0) return kNoOp;
  Op op = make(OpKind::kPut);
  op.peer = peer;
  op.index = window;
  op.dstOffset = dstOffset;
  op.src = src;
  op.bytes = bytes;
  return add(std::move(op), after);
}

OpId PlanBuilder::recvDequantize(int peer, strataDataType_t from, BufRef scales,
                                 size_t blockElems, BufRef dst, strataDataType_t to, size_t elems,
                                 size_t bytes, After after) {
  if (elems == 0) return kNoOp;
  Op op = make(OpKind::kRecvDequantize);
  op.peer = peer;
  op.dtype = from;
  op.dstType = to;
  op.scales = scales;
  op.blockElems = blockElems;
  op.dst = dst;
  op.elems = elems;
  op.bytes = bytes;
  return add(std::move(op), after);
}

void PlanBuilder::finish() {
  while (!plan_.phases.empty() && plan_.phases.back().ops.empty()) plan_.phases.pop_back();
  open_ = false;
}

}  // namespace strata
