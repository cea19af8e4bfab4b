// Happens-before edges ThreadSanitizer cannot see by itself. Ranks that are threads of one
// process each map a shared segment at their own address, so a sender's release store and its
// receiver's acquire load land on different addresses and TSan misses the edge between them (and
// then reports the peers' direct reads and writes of window memory as races). A FIFO names its
// edge by a process-wide key instead: release before publishing, acquire after observing. Without
// TSan every call here is empty.
#pragma once

#include <string>

#if defined(__SANITIZE_THREAD__)
#define STRATA_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRATA_TSAN 1
#endif
#endif

#ifdef STRATA_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace strata {

#ifdef STRATA_TSAN
// The same two-byte key for the same (name, index) in every thread of the process.
const char* tsanSyncKey(const std::string& name, int index);
inline void tsanRelease(const char* key) {
  if (key) __tsan_release(const_cast<char*>(key));
}
inline void tsanAcquire(const char* key) {
  if (key) __tsan_acquire(const_cast<char*>(key));
}
#else
inline const char* tsanSyncKey(const std::string&, int) { return nullptr; }
inline void tsanRelease(const char*) {}
inline void tsanAcquire(const char*) {}
#endif

}  // namespace strata
