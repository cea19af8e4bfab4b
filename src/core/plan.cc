#include "core/plan.h"

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

void PlanBuilder::send(int peer, BufRef src, size_t bytes) {
  if (bytes == 0) return;
  Op op;
  op.kind = OpKind::kSend;
  op.peer = peer;
  op.src = src;
  op.bytes = bytes;
  add(op);
}

void PlanBuilder::recv(int peer, BufRef dst, size_t bytes) {
  if (bytes == 0) return;
  Op op;
  op.kind = OpKind::kRecv;
  op.peer = peer;
  op.dst = dst;
  op.bytes = bytes;
  add(op);
}

void PlanBuilder::recvReduce(int peer, BufRef dst, BufRef local, size_t bytes) {
  if (bytes == 0) return;
  Op op;
  op.kind = OpKind::kRecvReduce;
  op.peer = peer;
  op.dst = dst;
  op.src = local;
  op.bytes = bytes;
  add(op);
}

void PlanBuilder::copy(BufRef src, BufRef dst, size_t bytes) {
  if (bytes == 0 || (src.slot == dst.slot && src.offset == dst.offset)) return;
  Op op;
  op.kind = OpKind::kCopy;
  op.src = src;
  op.dst = dst;
  op.bytes = bytes;
  add(op);
}

void PlanBuilder::reduceLocal(BufRef dst, BufRef a, BufRef b, size_t bytes) {
  if (bytes == 0) return;
  Op op;
  op.kind = OpKind::kReduceLocal;
  op.dst = dst;
  op.src = a;
  op.src2 = b;
  op.bytes = bytes;
  add(op);
}

void PlanBuilder::widen(BufRef src, BufRef dst, size_t elems) {
  if (elems == 0) return;
  Op op;
  op.kind = OpKind::kWiden;
  op.src = src;
  op.dst = dst;
  op.elems = elems;
  add(op);
}

void PlanBuilder::narrow(BufRef src, BufRef dst, size_t elems) {
  if (elems == 0) return;
  Op op;
  op.kind = OpKind::kNarrow;
  op.src = src;
  op.dst = dst;
  op.elems = elems;
  add(op);
}

void PlanBuilder::divide(BufRef dst, size_t elems, strataDataType_t type) {
  if (elems == 0) return;
  Op op;
  op.kind = OpKind::kDivide;
  op.dst = dst;
  op.elems = elems;
  op.divideType = type;
  add(op);
}

void PlanBuilder::finish() {
  while (!plan_.phases.empty() && plan_.phases.back().ops.empty()) plan_.phases.pop_back();
  open_ = false;
}

}  // namespace strata
