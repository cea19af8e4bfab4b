// The quantised AllGather (strataAllGatherQuantized and its raw variants): every rank quantises
// its input once into values and block scales, the values and scales are gathered, and in the
// dequantising mode each rank dequantises every block into the output.
//
// Rank k's scales travel in front of its values on each channel, so a receiver holds a block's
// scale before its values land and dequantises each chunk of values straight out of the
// transport's slot into the output (recvDequantize): the values are written nowhere else.
//
// Both candidates are priced on the bytes that really travel: the packed values plus the float32
// scales, not the source type's bytes.
#include "algorithms/algorithm.h"
#include "algorithms/patterns/ring.h"
#include "base/dtype.h"
#include "base/quant_format.h"

namespace strata {
namespace {

using patterns::mod;

// The sizes of one rank's part of the call.
struct QuantLayout {
  strataDataType_t stored;  // element type of the values on the wire
  size_t valueBytes;        // one rank's packed values
  size_t scaleBytes;        // one rank's scales
  size_t outBytes;          // one rank's block of a dequantised output
  size_t wireBytes() const { return valueBytes + scaleBytes; }
};

QuantLayout layoutOf(const CollArgs& a) {
  QuantLayout l{};
  l.stored = quantStorageType(a.quant.format);
  l.valueBytes = quantValueBytes(l.stored, a.count);
  l.scaleBytes = quantBlockCount(a.count, a.quant.blockElems) * sizeof(float);
  l.outBytes = a.quant.mode == QuantMode::kDequantize ? a.count * dtypeSize(a.dtype) : 0;
  return l;
}

// Where rank k's values and scales live on this rank, and where this rank's own input is.
// Dequantising: values in scratch (ring: every rank's; mesh: only ours), scales in the scales
// slot. Raw: values in the receive buffer, scales in the caller's recvScales (extra slot 0);
// a prequantised input's scales come in through extra slot 1.
constexpr int kRecvScalesSlot = kFirstExtraBuf;
constexpr int kSendScalesSlot = kFirstExtraBuf + 1;

struct QuantSlots {
  const CollArgs& a;
  const QuantLayout& l;
  bool allValuesInScratch;

  bool raw() const { return a.quant.mode != QuantMode::kDequantize; }
  BufRef values(int k) const {
    if (raw()) return recvAt(static_cast<size_t>(k) * l.valueBytes);
    return scratchAt(allValuesInScratch ? static_cast<size_t>(k) * l.valueBytes : 0);
  }
  BufRef scales(int k) const {
    const size_t off = static_cast<size_t>(k) * l.scaleBytes;
    return raw() ? BufRef{kRecvScalesSlot, off} : scalesAt(off);
  }
  BufRef out(int k) const { return recvAt(static_cast<size_t>(k) * l.outBytes); }
};

void sizePlan(const CollArgs& a, const CommShape& s, const QuantLayout& l, bool allValues,
              Plan& p) {
  const auto n = static_cast<size_t>(s.nranks);
  if (a.quant.mode == QuantMode::kDequantize) {
    p.scratchBytes = allValues ? n * l.valueBytes : l.valueBytes;
    p.scalesBytes = n * l.scaleBytes;
  } else {
    p.extraSlots = a.quant.mode == QuantMode::kRawPrequantized ? 2 : 1;
  }
}

// This rank's own part: quantised once (or, prequantised, copied into place), and in the
// dequantising mode written back dequantised, so every rank's output is the same. Returns the
// op the sends of our values and scales wait for, and sets where they are sent from.
OpId ownPart(PlanBuilder& pb, const QuantSlots& at, int rank, BufRef* valuesFrom,
             BufRef* scalesFrom) {
  const CollArgs& a = at.a;
  const QuantLayout& l = at.l;
  *valuesFrom = at.values(rank);
  *scalesFrom = at.scales(rank);
  if (a.quant.mode == QuantMode::kRawPrequantized) {
    if (!a.inPlace) {
      // Sent straight from the caller's buffers; the copies into our own part run beside them.
      *valuesFrom = sendAt(0);
      *scalesFrom = BufRef{kSendScalesSlot, 0};
      pb.copy(sendAt(0), at.values(rank), l.valueBytes);
      pb.copy(BufRef{kSendScalesSlot, 0}, at.scales(rank), l.scaleBytes);
    }
    return PlanBuilder::kNoOp;
  }
  const BufRef input = a.inPlace ? at.out(rank) : sendAt(0);
  const OpId q = pb.quantize(input, a.dtype, at.values(rank), l.stored, at.scales(rank),
                             a.quant.blockElems, a.count);
  if (a.quant.mode == QuantMode::kDequantize)
    pb.dequantize(at.values(rank), l.stored, at.scales(rank), a.quant.blockElems, at.out(rank),
                  a.dtype, a.count, {q});
  return q;
}

// Receives rank k's scales, then its values: dequantised as they land, or kept as they are.
void receivePart(PlanBuilder& pb, const QuantSlots& at, int from, int k) {
  const CollArgs& a = at.a;
  const QuantLayout& l = at.l;
  const OpId scales = pb.recv(from, at.scales(k), l.scaleBytes);
  if (at.raw()) {
    pb.recv(from, at.values(k), l.valueBytes);
  } else {
    pb.recvDequantize(from, l.stored, at.scales(k), a.quant.blockElems, at.out(k), a.dtype,
                      a.count, l.valueBytes, {scales});
  }
}

double wireCost(const CollArgs& a, const CommShape& s, double extraBytes) {
  const CostParams& c = defaultCost();
  const double wire = static_cast<double>(layoutOf(a).wireBytes());
  return static_cast<double>(s.nranks - 1) * (c.alpha + wire * c.beta) + extraBytes * c.beta;
}

// One phase: every rank sends its values and scales straight to every peer, and dequantises
// every peer's values out of the transport as they land.
class MeshQuantizedAllGather final : public Algorithm {
 public:
  const char* name() const override { return "mesh"; }
  CollType coll() const override { return CollType::kAllGatherQuantized; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  double estimate(const CollArgs& a, const CommShape& s) const override {
    return wireCost(a, s, 0.0);
  }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const QuantLayout l = layoutOf(a);
    sizePlan(a, s, l, false, p);
    const QuantSlots at{a, l, false};
    PlanBuilder pb(p, strataUint8);
    BufRef values, scales;
    const OpId own = ownPart(pb, at, s.rank, &values, &scales);
    const int n = s.nranks;
    for (int k = 1; k < n; ++k) {
      const int to = mod(s.rank + k, n);
      pb.send(to, scales, l.scaleBytes, {own});
      pb.send(to, values, l.valueBytes, {own});
    }
    for (int k = 1; k < n; ++k) {
      const int from = mod(s.rank - k, n);
      receivePart(pb, at, from, from);
    }
    pb.finish();
    return Status::ok();
  }
};

// n-1 steps round a ring, each rank passing on the part it received in the step before. The
// parts it forwards stay quantised in scratch and are dequantised from there once they have
// landed; the last part received is not forwarded and is dequantised straight out of the
// transport.
class RingQuantizedAllGather final : public Algorithm {
 public:
  const char* name() const override { return "ring"; }
  CollType coll() const override { return CollType::kAllGatherQuantized; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  double estimate(const CollArgs& a, const CommShape& s) const override {
    // The parts kept for forwarding are read a second time to be dequantised.
    const double reread = a.quant.mode == QuantMode::kDequantize && s.nranks > 2
                              ? static_cast<double>(s.nranks - 2) * layoutOf(a).valueBytes
                              : 0.0;
    return wireCost(a, s, reread);
  }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const QuantLayout l = layoutOf(a);
    sizePlan(a, s, l, true, p);
    const QuantSlots at{a, l, true};
    PlanBuilder pb(p, strataUint8);
    const int n = s.nranks;
    const int right = mod(s.rank + 1, n);
    const int left = mod(s.rank - 1, n);
    BufRef values, scales;
    const OpId own = ownPart(pb, at, s.rank, &values, &scales);
    for (int st = 0; st < n - 1; ++st) {
      if (st > 0) pb.nextPhase();
      const int sb = mod(s.rank - st, n);
      const OpId ready = st == 0 ? own : PlanBuilder::kNoOp;
      pb.send(right, st == 0 ? scales : at.scales(sb), l.scaleBytes, {ready});
      pb.send(right, st == 0 ? values : at.values(sb), l.valueBytes, {ready});
      const int rb = mod(s.rank - st - 1, n);
      if (at.raw() || st == n - 2) {
        receivePart(pb, at, left, rb);
        continue;
      }
      const OpId rs = pb.recv(left, at.scales(rb), l.scaleBytes);
      const OpId rv = pb.recv(left, at.values(rb), l.valueBytes);
      pb.dequantize(at.values(rb), l.stored, at.scales(rb), a.quant.blockElems, at.out(rb),
                    a.dtype, a.count, {rs, rv});
    }
    pb.finish();
    return Status::ok();
  }
};

}  // namespace

const Algorithm& meshQuantizedAllGather() {
  static const MeshQuantizedAllGather a;
  return a;
}
const Algorithm& ringQuantizedAllGather() {
  static const RingQuantizedAllGather a;
  return a;
}

}  // namespace strata
