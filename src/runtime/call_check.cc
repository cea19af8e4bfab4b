#include "runtime/call_check.h"

#include <cstring>
#include <string>
#include <type_traits>

#include "base/dtype.h"
#include "plan/call_tag.h"

namespace strata {
namespace {

static_assert(std::is_trivially_copyable_v<SignatureMessage>);
constexpr size_t kMessageBytes = sizeof(SignatureMessage);

bool reduces(CollType c) {
  return c == CollType::kAllReduce || c == CollType::kReduce || c == CollType::kReduceScatter ||
         c == CollType::kAllReduceFused;
}

bool rooted(CollType c) {
  return c == CollType::kBroadcast || c == CollType::kReduce || c == CollType::kGather ||
         c == CollType::kScatter;
}

bool isPointToPoint(CollType c) { return c == CollType::kSend || c == CollType::kRecv; }

CallSignature signatureOf(const CollArgs& a, uint32_t seq) {
  CallSignature s;
  s.seq = seq;
  s.coll = static_cast<uint8_t>(a.coll);
  if (a.coll == CollType::kBarrier) return s;
  s.dtype = static_cast<int32_t>(a.dtype);
  if (reduces(a.coll)) s.op = static_cast<int32_t>(a.op);
  if (rooted(a.coll)) s.root = a.root;
  if (a.coll != CollType::kAllGatherv && a.coll != CollType::kAllToAllv) s.count = a.count;
  if (a.coll == CollType::kAllGatherQuantized) {
    s.quant = static_cast<uint8_t>(a.quant.format);
    s.block = a.quant.blockElems;
  }
  if (a.coll == CollType::kAllReduceFused) {
    if (a.fused.quantized) s.quant = static_cast<uint8_t>(a.fused.quant);
    s.block = a.fused.rowElems;
  }
  return s;
}

// FNV-1a over the signature's bytes (every byte is set: the struct has no padding).
uint64_t mix(uint64_t h, const CallSignature& s) {
  static_assert(sizeof(CallSignature) == 40);
  const auto* p = reinterpret_cast<const unsigned char*>(&s);
  for (size_t i = 0; i < sizeof s; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

std::string describeFirst(const SignatureMessage& m) {
  if (m.ncalls == 0) return "no collective";
  if (m.ncalls == 1) return describeSignature(m.calls[0]);
  return format("a group of %u collectives, the first %s", m.ncalls,
                describeSignature(m.calls[0]).c_str());
}

}  // namespace

std::string describeSignature(const CallSignature& s) {
  const CollType coll = static_cast<CollType>(s.coll);
  std::string args;
  auto add = [&](const std::string& part) {
    if (!args.empty()) args += ", ";
    args += part;
  };
  if (s.count != CallSignature::kNoCount) add(format("count %llu", static_cast<unsigned long long>(s.count)));
  if (s.dtype >= 0) add(dtypeName(static_cast<strataDataType_t>(s.dtype)));
  if (s.op >= 0) add(redopName(static_cast<strataRedOp_t>(s.op)));
  if (s.root >= 0) add(format("root %d", s.root));
  if (s.quant != 0xff) add(format("format %u", unsigned{s.quant}));
  if (s.block != 0) add(format("block %llu", static_cast<unsigned long long>(s.block)));
  const char* name = s.coll < kNumCollTypes ? collName(coll) : "an unknown collective";
  return format("%s(%s) #%u", name, args.c_str(), s.seq);
}

SignatureMessage makeSignature(const CollArgs* calls, size_t count, uint32_t firstSeq) {
  SignatureMessage m;
  uint64_t h = 0xcbf29ce484222325ull;
  uint32_t seq = firstSeq;
  for (size_t i = 0; i < count; ++i) {
    if (isPointToPoint(calls[i].coll)) continue;
    const CallSignature s = signatureOf(calls[i], seq++);
    if (m.ncalls < SignatureMessage::kDetailedCalls) m.calls[m.ncalls] = s;
    ++m.ncalls;
    h = mix(h, s);
  }
  m.digest = h;
  return m;
}

std::string compareSignatures(int me, const SignatureMessage& mine, int peerRank,
                              const SignatureMessage& theirs) {
  if (theirs.magic != SignatureMessage::kMagic)
    return format("rank %d sent a malformed call signature (magic 0x%x)", peerRank, theirs.magic);
  if (mine.ncalls != theirs.ncalls) {
    return format("rank %d called %s but rank %d called %s", me, describeFirst(mine).c_str(),
                  peerRank, describeFirst(theirs).c_str());
  }
  const size_t detailed = std::min<size_t>(mine.ncalls, SignatureMessage::kDetailedCalls);
  for (size_t i = 0; i < detailed; ++i) {
    if (mine.calls[i] == theirs.calls[i]) continue;
    const std::string where =
        mine.ncalls > 1 ? format(" (collective %zu of a group of %u)", i + 1, mine.ncalls) : "";
    return format("rank %d called %s but rank %d called %s%s", me,
                  describeSignature(mine.calls[i]).c_str(), peerRank,
                  describeSignature(theirs.calls[i]).c_str(), where.c_str());
  }
  if (mine.digest != theirs.digest) {
    return format("rank %d and rank %d called groups of %u collectives that differ past the "
                  "first %zu (the first is %s)",
                  me, peerRank, mine.ncalls, SignatureMessage::kDetailedCalls,
                  describeSignature(mine.calls[0]).c_str());
  }
  return {};
}

CallChecker::CallChecker(int rank, int nranks)
    : rank_(rank), nranks_(nranks), received_(static_cast<size_t>(nranks)) {
  auto plan = std::make_shared<Plan>();
  plan->algo = "call check";
  plan->nranks = nranks;
  PlanBuilder b(*plan);
  // Every peer at once: the sends and receives of different peers travel on different channels.
  for (int k = 1; k < nranks; ++k) {
    const int to = (rank + k) % nranks;
    const int from = (rank - k + nranks) % nranks;
    b.send(to, BufRef{kSendBuf, 0}, kMessageBytes);
    b.recv(from, BufRef{kRecvBuf, static_cast<size_t>(from) * kMessageBytes}, kMessageBytes);
  }
  b.finish();
  plan_ = std::move(plan);
}

bool CallChecker::applies(const CollArgs* calls, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (!isPointToPoint(calls[i].coll)) return true;
  return false;
}

void CallChecker::prepare(const RunContext& ctx, const CollArgs* calls, size_t count,
                          uint32_t firstSeq) {
  mine_ = makeSignature(calls, count, firstSeq);
  received_[static_cast<size_t>(rank_)] = mine_;
  run_.reset(ctx);
  RunItem item;
  item.plan = plan_;
  item.bases[kSendBuf] = reinterpret_cast<std::byte*>(&mine_);
  item.bases[kRecvBuf] = reinterpret_cast<std::byte*>(received_.data());
  item.collName = "call check (STRATA_CHECK)";
  // One sequence number for every exchange: ranks a call apart still exchange their signatures,
  // and the comparison names both calls.
  item.call = CallTag{0, static_cast<uint8_t>(CallKind::kCallCheck)}.pack();
  run_.items().push_back(std::move(item));
  run_.start();
}

Status CallChecker::verdict(const std::string& label) const {
  for (int k = 1; k < nranks_; ++k) {
    const int peer = (rank_ + k) % nranks_;
    const std::string diff =
        compareSignatures(rank_, mine_, peer, received_[static_cast<size_t>(peer)]);
    if (!diff.empty()) {
      return makeError(strataInvalidUsage,
                       "%s: STRATA_CHECK: %s (the ranks' calls differ; no data was exchanged)",
                       label.c_str(), diff.c_str());
    }
  }
  return Status::ok();
}

Status runCallChecks(CallChecker* const* checkers, size_t count) {
  std::vector<PlanRun*> runs;
  runs.reserve(count);
  for (size_t i = 0; i < count; ++i) runs.push_back(&checkers[i]->run());
  return runToCompletion(runs.data(), runs.size());
}

}  // namespace strata
