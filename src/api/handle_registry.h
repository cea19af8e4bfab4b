// The handles the C API has given out and not yet taken back. Every entry point looks a handle
// up here before reading through it, so a destroyed (or never created) handle is rejected
// without touching freed memory.
#pragma once

#include <cstdint>

namespace strata::api {

enum class HandleKind : uint8_t { kComm, kStream, kWindow, kMoeBuffer };

// Records h as a live handle of `kind`; call before handing it to the caller.
void registerHandle(const void* h, HandleKind kind);
// Forgets h; call before freeing it. Returns false when h was not live (a second destroy).
bool unregisterHandle(const void* h, HandleKind kind);
// True when h was registered as `kind` and has not been unregistered since.
bool isLiveHandle(const void* h, HandleKind kind);

}  // namespace strata::api
