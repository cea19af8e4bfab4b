// Feeds arbitrary MoE shapes and top-k ids to the checks a dispatch runs before anything moves:
// makeMoeShape (the buffer's configuration), checkTopkIds, and the layout of accepted ids. A bad
// shape or id must be refused with a message; an accepted one must lay out within its bounds.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "moe/moe_layout.h"
#include "moe/moe_shape.h"

namespace {

template <typename T>
T take(const uint8_t*& data, size_t& size) {
  T v{};
  const size_t n = size < sizeof(T) ? size : sizeof(T);
  std::memcpy(&v, data, n);
  data += n;
  size -= n;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  strataMoeConfig_t config{};
  config.maxTokensPerRank = take<uint16_t>(data, size) % 512;
  config.hidden = take<uint16_t>(data, size) % 64;
  config.topk = take<int8_t>(data, size);
  config.numExperts = take<int16_t>(data, size);
  config.dtype = static_cast<strataDataType_t>(take<uint8_t>(data, size) % 12);
  const int nranks = 1 + take<uint8_t>(data, size) % 16;
  auto shape = makeMoeShape(config, nranks);
  if (!shape.isOk()) {
    if (shape.status().message().empty()) __builtin_trap();
    return 0;
  }
  const MoeShape& s = shape.value();
  TopkIds ids;
  ids.type = take<uint8_t>(data, size) % 2 ? strataInt64 : strataInt32;
  ids.topk = s.topk;
  const size_t idBytes = ids.type == strataInt64 ? 8 : 4;
  ids.tokens = size / (idBytes * static_cast<size_t>(s.topk));
  std::vector<uint8_t> copy(data, data + ids.tokens * idBytes * static_cast<size_t>(s.topk));
  ids.data = copy.data();
  Status checked = checkTopkIds("fuzz", s, ids);
  if (!checked.isOk()) {
    if (checked.message().empty()) __builtin_trap();
    return 0;
  }
  std::vector<int32_t> route(static_cast<size_t>(s.numExperts));
  for (int e = 0; e < s.numExperts; ++e) route[static_cast<size_t>(e)] = e % s.numSlots;
  std::vector<int> perRank(static_cast<size_t>(s.nranks)), perExpert(static_cast<size_t>(s.numExperts));
  std::vector<uint8_t> inRank(ids.tokens * static_cast<size_t>(s.nranks));
  computeMoeLayout(s, ids, route.data(), perRank.data(), perExpert.data(), inRank.data());
  for (int n : perRank)
    if (n < 0 || static_cast<size_t>(n) > ids.tokens) __builtin_trap();
  return 0;
}
