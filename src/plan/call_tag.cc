#include "plan/call_tag.h"

#include "base/status.h"

namespace strata {

uint8_t callKindOf(CollType c) {
  if (c == CollType::kSend || c == CollType::kRecv)
    return static_cast<uint8_t>(CallKind::kPointToPoint);
  return static_cast<uint8_t>(c);
}

namespace {

const char* kindName(uint8_t kind) {
  if (kind == static_cast<uint8_t>(CallKind::kPointToPoint)) return "Send/Recv";
  if (kind == static_cast<uint8_t>(CallKind::kMoeDispatch)) return "MoeDispatch";
  if (kind == static_cast<uint8_t>(CallKind::kMoeCombine)) return "MoeCombine";
  if (kind == static_cast<uint8_t>(CallKind::kCallCheck)) return "call signature (STRATA_CHECK)";
  if (kind == static_cast<uint8_t>(CallKind::kGroupCounts)) return "AllToAllv group count exchange";
  if (kind < kNumCollTypes) return collName(static_cast<CollType>(kind));
  return nullptr;
}

}  // namespace

std::string describeCall(uint64_t packed) {
  if (packed == 0) return "an untagged call";
  const CallTag t = CallTag::unpack(packed);
  const char* name = kindName(t.kind);
  if (name == nullptr) return format("call #%u of unknown kind %u", t.seq, unsigned{t.kind});
  return format("call #%u %s", t.seq, name);
}

}  // namespace strata
