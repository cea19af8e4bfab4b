// Memory that ranks on one host can map: strataMemAlloc's allocations. Each allocation is an
// anonymous memfd (no name in /dev/shm, mode 0600, close-on-exec), sealed against shrinking and
// growing so a peer that maps it can never be cut short by a truncation (no SIGBUS), and mapped
// shared into this process. A process-wide table remembers every live allocation so window
// registration can find the descriptor behind a pointer.
#pragma once

#include <cstddef>

#include "base/status.h"

namespace strata {

// What window registration needs to know about the allocation holding a range.
struct SharedAllocationInfo {
  std::byte* base = nullptr;  // start of the allocation
  size_t bytes = 0;           // its size
  int fd = -1;                // its memfd, owned by the table (valid until the allocation is freed)
};

// A new allocation of `bytes` (rounded up to a page); zero-filled.
Result<void*> sharedAlloc(size_t bytes);

// Frees an allocation made by sharedAlloc. InvalidArgument names the pointer when it is not the
// start of one; InvalidUsage when a window still covers it.
Status sharedFree(void* ptr);

// The allocation holding [ptr, ptr + bytes): InvalidArgument names the pointer when no
// allocation holds ptr, and the size when the range runs past the end of its allocation.
Result<SharedAllocationInfo> sharedFind(const void* ptr, size_t bytes, const char* op);

// Window registrations pin their allocation: a pinned allocation cannot be freed.
void sharedPin(const void* base);
void sharedUnpin(const void* base);

}  // namespace strata
