// The memory a communicator's plans use besides the caller's buffers: scratch, the float32
// staging copies and the block scales, grown to the largest plan run so far and bound into each
// run item with the call's buffers.
#pragma once

#include <cstddef>
#include <vector>

#include "plan/executor.h"

namespace strata {

class BufferArena {
 public:
  // Grows the arena so every plan in `items` fits.
  void reserveFor(const std::vector<RunItem>& items);
  // Points the item's slots at the call's buffers and the arena (reserveFor came first).
  void bind(RunItem& item, const void* send, void* recv, const std::vector<void*>& extras);

 private:
  std::vector<std::byte> scratch_, stageIn_, stageOut_, scales_;
};

}  // namespace strata
