// A POSIX shared-memory segment: created by its owner under a random name, mapped by peers,
// unlinked by the owner once every peer has mapped it. Owns the mapping (and the name until
// unlinked); move-only.
#pragma once

#include <cstddef>
#include <string>

#include "base/status.h"

namespace strata {

// Removes this user's segments in /dev/shm whose owner process (the pid in the name) has exited:
// what a process SIGKILLed between creating its segment and unlinking it leaves behind. Returns
// how many it removed.
int sweepDeadOwnersSegments();

class ShmSegment {
 public:
  ShmSegment() = default;
  ~ShmSegment();
  ShmSegment(ShmSegment&& other) noexcept;
  ShmSegment& operator=(ShmSegment&& other) noexcept;
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  // A new zero-filled segment of `bytes` named "/strata-<pid>-<32 hex digits>" (the creating
  // process and 128 random bits), created with O_EXCL and mode 0600 and backed by allocated
  // pages, so a full /dev/shm fails here rather than with SIGBUS later. Unlinked by the
  // destructor unless unlink() ran first. Sweeps leftovers first (sweepDeadOwnersSegments).
  static Result<ShmSegment> create(size_t bytes);

  // Maps an existing segment created by a peer; fails unless its size is exactly `bytes`.
  static Result<ShmSegment> open(const std::string& name, size_t bytes);

  // Removes the name (owner only; a no-op otherwise or when already done). The mapping stays.
  Status unlink();

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }
  bool linked() const { return linked_; }

 private:
  void reset();

  std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::string name_;
  bool linked_ = false;  // this object created the name and has not unlinked it yet
};

}  // namespace strata
