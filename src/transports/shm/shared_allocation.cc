#include "transports/shm/shared_allocation.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>

#include "base/logging.h"

namespace strata {
namespace {

struct Allocation {
  size_t bytes = 0;
  int fd = -1;
  int pins = 0;  // windows registered on it
};

struct AllocationTable {
  std::mutex mu;
  std::map<uintptr_t, Allocation> byBase;  // ordered: the allocation holding p is the last <= p
};

AllocationTable& table() {
  static AllocationTable* t = new AllocationTable;  // never destroyed: used from static teardown
  return *t;
}

Status sysError(const char* what, size_t bytes) {
  const int err = errno;
  return makeError(strataSystemError, "strataMemAlloc: %s for %zu bytes failed: %s", what, bytes,
                   std::strerror(err));
}

}  // namespace

Result<void*> sharedAlloc(size_t bytes) {
  if (bytes == 0) return makeError(strataInvalidArgument, "strataMemAlloc: size is 0");
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  if (bytes > (SIZE_MAX - page))
    return makeError(strataInvalidArgument, "strataMemAlloc: size %zu is too large", bytes);
  const size_t rounded = (bytes + page - 1) / page * page;
  const int fd = ::memfd_create("strata-mem", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return sysError("memfd_create", bytes);
  auto fail = [&](const char* what) {
    Status s = sysError(what, bytes);
    ::close(fd);
    return s;
  };
  // memfd files are created 0777 less the umask; only this user may open it through /proc.
  if (::fchmod(fd, 0600) != 0) return fail("fchmod 0600");
  if (::ftruncate(fd, static_cast<off_t>(rounded)) != 0) return fail("ftruncate");
  // Backed now, so a full tmpfs fails here instead of with SIGBUS on first touch.
  if (::fallocate(fd, 0, 0, static_cast<off_t>(rounded)) != 0 && errno != EOPNOTSUPP)
    return fail("fallocate");
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    return fail("sealing");
  void* p = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return fail("mmap");
  AllocationTable& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  t.byBase[reinterpret_cast<uintptr_t>(p)] = Allocation{rounded, fd, 0};
  STRATA_INFO(Subsys::kShm, "strataMemAlloc: %zu bytes at %p (memfd %d)", rounded, p, fd);
  return p;
}

Status sharedFree(void* ptr) {
  if (ptr == nullptr) return makeError(strataInvalidArgument, "strataMemFree: ptr is NULL");
  AllocationTable& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.byBase.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == t.byBase.end())
    return makeError(strataInvalidArgument,
                     "strataMemFree: ptr %p was not returned by strataMemAlloc (or was freed)",
                     ptr);
  if (it->second.pins > 0)
    return makeError(strataInvalidUsage,
                     "strataMemFree: ptr %p is still registered in %d window(s); deregister them "
                     "first",
                     ptr, it->second.pins);
  ::munmap(ptr, it->second.bytes);
  ::close(it->second.fd);
  t.byBase.erase(it);
  return Status::ok();
}

Result<SharedAllocationInfo> sharedFind(const void* ptr, size_t bytes, const char* op) {
  const auto p = reinterpret_cast<uintptr_t>(ptr);
  AllocationTable& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.byBase.upper_bound(p);
  if (it == t.byBase.begin() || p >= std::prev(it)->first + std::prev(it)->second.bytes)
    return makeError(strataInvalidArgument,
                     "%s: buff %p does not lie in memory from strataMemAlloc", op, ptr);
  --it;
  const size_t room = it->first + it->second.bytes - p;
  if (bytes > room)
    return makeError(strataInvalidArgument,
                     "%s: size %zu at buff %p runs past the end of its strataMemAlloc allocation "
                     "(%zu bytes left of %zu)",
                     op, bytes, ptr, room, it->second.bytes);
  return SharedAllocationInfo{reinterpret_cast<std::byte*>(it->first), it->second.bytes,
                              it->second.fd};
}

void sharedPin(const void* base) {
  AllocationTable& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.byBase.find(reinterpret_cast<uintptr_t>(base));
  if (it != t.byBase.end()) ++it->second.pins;
}

void sharedUnpin(const void* base) {
  AllocationTable& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.byBase.find(reinterpret_cast<uintptr_t>(base));
  if (it != t.byBase.end() && it->second.pins > 0) --it->second.pins;
}

}  // namespace strata
