#include "runtime/buffer_arena.h"

#include <algorithm>

namespace strata {
namespace {

void grow(std::vector<std::byte>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

void BufferArena::reserveFor(const std::vector<RunItem>& items) {
  for (const RunItem& it : items) {
    if (!it.plan) continue;
    grow(scratch_, it.plan->scratchBytes);
    grow(stageIn_, it.plan->stageInBytes);
    grow(stageOut_, it.plan->stageOutBytes);
    grow(scales_, it.plan->scalesBytes);
  }
}

void BufferArena::bind(RunItem& item, const void* send, void* recv,
                       const std::vector<void*>& extras) {
  item.bases[kSendBuf] = const_cast<std::byte*>(static_cast<const std::byte*>(send));
  item.bases[kRecvBuf] = static_cast<std::byte*>(recv);
  item.bases[kScratchBuf] = scratch_.data();
  item.bases[kStageInBuf] = stageIn_.data();
  item.bases[kStageOutBuf] = stageOut_.data();
  item.bases[kScalesBuf] = scales_.data();
  item.extras.clear();
  for (void* e : extras) item.extras.push_back(static_cast<std::byte*>(e));
}

}  // namespace strata
