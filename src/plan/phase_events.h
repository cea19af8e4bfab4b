// The virtual-time events of one phase, in op order (transport.h describes them). The executor
// sends them to a transport that models time (sim); timing-only evaluation sends them to its
// own clocks. One function, so both time every op kind alike.
#pragma once

#include "plan/plan.h"

namespace strata {

template <typename Sink>
void announcePhase(const Phase& ph, Sink& sink) {
  for (const Op& op : ph.ops) {
    switch (op.kind) {
      case OpKind::kSend: sink.postSend(op.peer, op.bytes); break;
      case OpKind::kPut: sink.postPut(op.peer, op.bytes); break;
      case OpKind::kSignal: sink.postSignal(op.peer); break;
      case OpKind::kRecv:
      case OpKind::kRecvDequantize: sink.postRecv(op.peer, op.bytes, false); break;
      case OpKind::kRecvReduce: sink.postRecv(op.peer, op.bytes, true); break;
      case OpKind::kWait: sink.postWait(op.peer, op.bytes); break;
      case OpKind::kReduceLocal:
        sink.chargeCompute(op.bytes * static_cast<size_t>(op.nsrc - 1));
        break;
      // The phase model times no forwarding (plans for a time-modelling transport have none),
      // and local copies, conversions and callbacks take no simulated time.
      case OpKind::kRecvReduceSend:
      case OpKind::kRecvCopySend:
      case OpKind::kCopy:
      case OpKind::kTransform:
      case OpKind::kDivide:
      case OpKind::kCallback:
      // Flags live in a shared-memory segment: no time-modelling transport has them.
      case OpKind::kFlagPost:
      case OpKind::kFlagWait:
        break;
    }
  }
}

}  // namespace strata
