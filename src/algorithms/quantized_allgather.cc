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
#include <algorithm>

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

// A run of whole blocks of one rank's part: elements [first, first + len).
struct Piece {
  size_t first = 0;
  size_t len = 0;
};

BufRef shifted(BufRef r, size_t bytes) { return BufRef{r.slot, r.offset + bytes}; }

// Where piece p starts in rank k's values, scales and output.
BufRef valuesOf(const QuantSlots& at, int k, Piece p) {
  return shifted(at.values(k), quantValueBytes(at.l.stored, p.first));
}
BufRef scalesOf(const QuantSlots& at, int k, Piece p) {
  return shifted(at.scales(k), p.first / at.a.quant.blockElems * sizeof(float));
}
BufRef outOf(const QuantSlots& at, int k, Piece p) {
  return shifted(at.out(k), p.first * dtypeSize(at.a.dtype));
}
size_t valueBytesOf(const QuantSlots& at, Piece p) { return quantValueBytes(at.l.stored, p.len); }
size_t scaleBytesOf(const QuantSlots& at, Piece p) {
  return quantBlockCount(p.len, at.a.quant.blockElems) * sizeof(float);
}

// This rank's own piece: quantised once (or, prequantised, copied into place), and in the
// dequantising mode written back dequantised, so every rank's output is the same. Returns the
// op the sends of the piece's values and scales wait for, and sets where they are sent from.
OpId ownPart(PlanBuilder& pb, const QuantSlots& at, int rank, Piece p, BufRef* valuesFrom,
             BufRef* scalesFrom) {
  const CollArgs& a = at.a;
  *valuesFrom = valuesOf(at, rank, p);
  *scalesFrom = scalesOf(at, rank, p);
  if (a.quant.mode == QuantMode::kRawPrequantized) {
    if (!a.inPlace) {
      // Sent straight from the caller's buffers; the copies into our own part run beside them.
      *valuesFrom = shifted(sendAt(0), quantValueBytes(at.l.stored, p.first));
      *scalesFrom = BufRef{kSendScalesSlot, p.first / a.quant.blockElems * sizeof(float)};
      pb.copy(*valuesFrom, valuesOf(at, rank, p), valueBytesOf(at, p));
      pb.copy(*scalesFrom, scalesOf(at, rank, p), scaleBytesOf(at, p));
    }
    return PlanBuilder::kNoOp;
  }
  const BufRef input =
      a.inPlace ? outOf(at, rank, p) : shifted(sendAt(0), p.first * dtypeSize(a.dtype));
  const OpId q = pb.quantize(input, a.dtype, valuesOf(at, rank, p), at.l.stored,
                             scalesOf(at, rank, p), a.quant.blockElems, p.len);
  if (a.quant.mode == QuantMode::kDequantize)
    pb.dequantize(valuesOf(at, rank, p), at.l.stored, scalesOf(at, rank, p), a.quant.blockElems,
                  outOf(at, rank, p), a.dtype, p.len, {q});
  return q;
}

// Receives piece p of rank k's scales, then of its values: dequantised as they land, or kept
// as they are.
void receivePart(PlanBuilder& pb, const QuantSlots& at, int from, int k, Piece p) {
  const CollArgs& a = at.a;
  const OpId scales = pb.recv(from, scalesOf(at, k, p), scaleBytesOf(at, p));
  if (at.raw()) {
    pb.recv(from, valuesOf(at, k, p), valueBytesOf(at, p));
  } else {
    pb.recvDequantize(from, at.l.stored, scalesOf(at, k, p), a.quant.blockElems, outOf(at, k, p),
                      a.dtype, p.len, valueBytesOf(at, p), {scales});
  }
}

// Pieces of about kPieceElems elements (whole blocks; an even count for int4), at most
// kMaxPieces: quantising piece i+1 overlaps sending piece i, so the peers start receiving after
// one piece instead of the whole part. Only where the transport streams (not the sim's phase
// model, where each message would pay its own latency), and not for a prequantised input.
constexpr size_t kPieceElems = 256 * 1024;
constexpr size_t kMaxPieces = 8;

size_t pieceElems(const CollArgs& a, const CommShape& s) {
  if (!s.forwarding || a.quant.mode == QuantMode::kRawPrequantized || a.count == 0) return a.count;
  size_t unit = a.quant.blockElems;
  if (a.quant.format == strataQuantInt4 && unit % 2 != 0) unit *= 2;
  size_t want = std::max(kPieceElems, (a.count + kMaxPieces - 1) / kMaxPieces);
  want = (want + unit - 1) / unit * unit;
  return std::min(want, a.count);
}

// One phase: every rank sends its values and scales straight to every peer, and dequantises
// every peer's values out of the transport as they land.
class MeshQuantizedAllGather final : public Algorithm {
 public:
  const char* name() const override { return "mesh"; }
  const char* description() const override {
    return "values and scales straight to every peer in one step, dequantised as they land";
  }
  CollType coll() const override { return CollType::kAllGatherQuantized; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const QuantLayout l = layoutOf(a);
    sizePlan(a, s, l, false, p);
    const QuantSlots at{a, l, false};
    PlanBuilder pb(p, strataUint8);
    const int n = s.nranks;
    const size_t step = pieceElems(a, s);
    for (size_t first = 0; first < a.count; first += step) {
      const Piece piece{first, std::min(step, a.count - first)};
      BufRef values, scales;
      const OpId own = ownPart(pb, at, s.rank, piece, &values, &scales);
      for (int k = 1; k < n; ++k) {
        const int to = mod(s.rank + k, n);
        pb.send(to, scales, scaleBytesOf(at, piece), {own});
        pb.send(to, values, valueBytesOf(at, piece), {own});
      }
      for (int k = 1; k < n; ++k) {
        const int from = mod(s.rank - k, n);
        receivePart(pb, at, from, from, piece);
      }
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
  const char* description() const override {
    return "quantised parts forwarded round a ring, dequantised once landed";
  }
  CollType coll() const override { return CollType::kAllGatherQuantized; }
  bool supports(const CollArgs&, const CommShape&) const override { return true; }
  Status plan(const CollArgs& a, const CommShape& s, Plan& p) const override {
    const QuantLayout l = layoutOf(a);
    sizePlan(a, s, l, true, p);
    const QuantSlots at{a, l, true};
    PlanBuilder pb(p, strataUint8);
    const int n = s.nranks;
    const int right = mod(s.rank + 1, n);
    const int left = mod(s.rank - 1, n);
    const Piece whole{0, a.count};
    BufRef values, scales;
    const OpId own = ownPart(pb, at, s.rank, whole, &values, &scales);
    for (int st = 0; st < n - 1; ++st) {
      if (st > 0) pb.nextPhase();
      const int sb = mod(s.rank - st, n);
      const OpId ready = st == 0 ? own : PlanBuilder::kNoOp;
      pb.send(right, st == 0 ? scales : at.scales(sb), l.scaleBytes, {ready});
      pb.send(right, st == 0 ? values : at.values(sb), l.valueBytes, {ready});
      const int rb = mod(s.rank - st - 1, n);
      if (at.raw() || st == n - 2) {
        receivePart(pb, at, left, rb, whole);
        continue;
      }
      const OpId rs = pb.recv(left, at.scales(rb), l.scaleBytes);
      const OpId rv = pb.recv(left, at.values(rb), l.valueBytes);
      pb.dequantize(at.values(rb), l.stored, at.scales(rb), a.quant.blockElems, at.out(rb), a.dtype,
                    a.count, {rs, rv});
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
