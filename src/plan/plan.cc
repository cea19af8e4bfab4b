#include "plan/plan.h"

namespace strata {

size_t Plan::opCount() const {
  size_t n = 0;
  for (const auto& p : phases) n += p.ops.size();
  return n;
}

PlanBuilder& PlanBuilder::nextPhase() {
  if (!plan_.phases.empty() && plan_.phases.back().ops.empty()) return *this;
  plan_.phases.emplace_back();
  open_ = true;
  return *this;
}

void PlanBuilder::add(const Op& op) {
  if (!open_ || plan_.phases.empty()) {
    plan_.phases.emplace_back();
    open_ = true;
  }
  plan_.phases.back().ops.push_back(op);
}

namespace {

Op makeOp(OpKind kind, int peer, BufRef src, BufRef src2, BufRef dst, size_t bytes, size_t elems) {
  Op op;
  op.kind = kind;
  op.peer = peer;
  op.src = src;
  op.src2 = src2;
  op.dst = dst;
  op.bytes = bytes;
  op.elems = elems;
  return op;
}

}  // namespace

void PlanBuilder::send(int peer, BufRef src, size_t bytes) {
  if (bytes > 0) add(makeOp(OpKind::kSend, peer, src, {}, {}, bytes, 0));
}

void PlanBuilder::recv(int peer, BufRef dst, size_t bytes) {
  if (bytes > 0) add(makeOp(OpKind::kRecv, peer, {}, {}, dst, bytes, 0));
}

void PlanBuilder::recvReduce(int peer, BufRef dst, BufRef local, size_t bytes,
                             bool incomingFirst) {
  if (bytes == 0) return;
  Op op = makeOp(OpKind::kRecvReduce, peer, local, {}, dst, bytes, 0);
  op.incomingFirst = incomingFirst;
  add(op);
}

void PlanBuilder::recvReduceSend(int from, int to, BufRef dst, BufRef local, size_t bytes) {
  if (bytes == 0) return;
  Op op = makeOp(OpKind::kRecvReduceSend, from, local, {}, dst, bytes, 0);
  op.peer2 = to;
  add(op);
}

void PlanBuilder::recvCopySend(int from, int to, BufRef dst, size_t bytes) {
  if (bytes == 0) return;
  Op op = makeOp(OpKind::kRecvCopySend, from, {}, {}, dst, bytes, 0);
  op.peer2 = to;
  add(op);
}

void PlanBuilder::copy(BufRef src, BufRef dst, size_t bytes) {
  if (bytes == 0 || (src.slot == dst.slot && src.offset == dst.offset)) return;
  add(makeOp(OpKind::kCopy, -1, src, {}, dst, bytes, 0));
}

void PlanBuilder::reduceLocal(BufRef dst, BufRef a, BufRef b, size_t bytes) {
  if (bytes > 0) add(makeOp(OpKind::kReduceLocal, -1, a, b, dst, bytes, 0));
}

void PlanBuilder::widen(BufRef src, BufRef dst, size_t elems) {
  if (elems > 0) add(makeOp(OpKind::kWiden, -1, src, {}, dst, 0, elems));
}

void PlanBuilder::narrow(BufRef src, BufRef dst, size_t elems) {
  if (elems > 0) add(makeOp(OpKind::kNarrow, -1, src, {}, dst, 0, elems));
}

void PlanBuilder::divide(BufRef dst, size_t elems, strataDataType_t type) {
  if (elems == 0) return;
  Op op = makeOp(OpKind::kDivide, -1, {}, {}, dst, 0, elems);
  op.divideType = type;
  add(op);
}

void PlanBuilder::finish() {
  while (!plan_.phases.empty() && plan_.phases.back().ops.empty()) plan_.phases.pop_back();
  open_ = false;
}

}  // namespace strata
