#include "transports/shm/shm_segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include "base/logging.h"
#include "transports/shm/process_liveness.h"

namespace strata {
namespace {

constexpr int kCreateAttempts = 8;
constexpr const char* kShmDir = "/dev/shm";

constexpr const char* kNamePrefix = "strata-";

// "/strata-<owner pid>-<32 hex digits>": the pid lets a later init on the host tell a segment
// whose owner died before unlinking it (SIGKILL mid-setup) from one still being set up.
std::string randomSegmentName() {
  std::random_device rd;
  static const char kDigits[] = "0123456789abcdef";
  std::string name = std::string("/") + kNamePrefix + std::to_string(::getpid()) + "-";
  for (int word = 0; word < 4; ++word) {
    uint32_t v = rd();
    for (int nibble = 0; nibble < 8; ++nibble, v >>= 4) name.push_back(kDigits[v & 0xf]);
  }
  return name;
}

// The owner pid in a segment name as randomSegmentName() makes it (without the '/'); -1 for
// any other name.
int ownerPidOf(const char* entry) {
  const size_t prefix = std::strlen(kNamePrefix);
  if (std::strncmp(entry, kNamePrefix, prefix) != 0) return -1;
  const char* p = entry + prefix;
  long pid = 0;
  const char* digits = p;
  while (*p >= '0' && *p <= '9' && pid < (1L << 31)) pid = pid * 10 + (*p++ - '0');
  if (p == digits || *p != '-' || pid <= 0 || pid >= (1L << 31)) return -1;
  ++p;
  size_t hex = 0;
  for (; *p != '\0'; ++p, ++hex)
    if (!std::isxdigit(static_cast<unsigned char>(*p))) return -1;
  return hex == 32 ? static_cast<int>(pid) : -1;
}

// Closes the descriptor on every path; the mapping outlives it.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status sysError(const char* op, const std::string& name) {
  int err = errno;
  return makeError(strataSystemError, "shared memory: %s %s failed: %s", op, name.c_str(),
                   std::strerror(err));
}

Result<std::byte*> mapShared(int fd, size_t bytes, const std::string& name) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return sysError("mmap", name);
  return static_cast<std::byte*>(p);
}

}  // namespace

ShmSegment::~ShmSegment() { reset(); }

ShmSegment::ShmSegment(ShmSegment&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      name_(std::move(other.name_)),
      linked_(std::exchange(other.linked_, false)) {}

ShmSegment& ShmSegment::operator=(ShmSegment&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    name_ = std::move(other.name_);
    linked_ = std::exchange(other.linked_, false);
  }
  return *this;
}

void ShmSegment::reset() {
  if (linked_) (void)unlink();
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

int sweepDeadOwnersSegments() {
  DIR* dir = ::opendir(kShmDir);
  if (dir == nullptr) return 0;
  const uid_t me = ::geteuid();
  const int self = static_cast<int>(::getpid());
  int removed = 0;
  while (dirent* e = ::readdir(dir)) {
    const int owner = ownerPidOf(e->d_name);
    if (owner < 0 || owner == self) continue;
    struct stat st {};
    if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid != me)
      continue;
    if (!processExited(owner)) continue;
    const std::string name = std::string("/") + e->d_name;
    if (::shm_unlink(name.c_str()) == 0) {
      ++removed;
      STRATA_INFO(Subsys::kShm, "shared memory: removed %s, left behind by pid %d, which exited",
                  name.c_str(), owner);
    }
  }
  ::closedir(dir);
  return removed;
}

Result<ShmSegment> ShmSegment::create(size_t bytes) {
  if (bytes == 0) return makeError(strataInvalidArgument, "shared memory: segment of 0 bytes");
  (void)sweepDeadOwnersSegments();
  ShmSegment seg;
  int fd = -1;
  for (int attempt = 0; attempt < kCreateAttempts && fd < 0; ++attempt) {
    seg.name_ = randomSegmentName();
    fd = ::shm_open(seg.name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) return sysError("shm_open (create)", seg.name_);
  }
  if (fd < 0) return sysError("shm_open (create)", seg.name_);
  Fd owned(fd);
  seg.linked_ = true;  // from here on, every failure path unlinks through the destructor
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) return sysError("ftruncate", seg.name_);
  // Allocate the pages now: tmpfs is sparse, and touching a page it cannot back raises SIGBUS.
  if (int err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes)); err != 0) {
    return makeError(strataSystemError,
                     "shared memory: cannot allocate %zu bytes for %s: %s (is /dev/shm too "
                     "small? STRATA_SHM_CHUNK_BYTES and STRATA_SHM_SLOTS shrink it)",
                     bytes, seg.name_.c_str(), std::strerror(err));
  }
  STRATA_ASSIGN(seg.data_, mapShared(fd, bytes, seg.name_));
  seg.size_ = bytes;
  return seg;
}

Result<ShmSegment> ShmSegment::open(const std::string& name, size_t bytes) {
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) return sysError("shm_open", name);
  Fd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sysError("fstat", name);
  if (st.st_size < 0 || static_cast<size_t>(st.st_size) != bytes)
    return makeError(strataInvalidArgument,
                     "shared memory: segment %s has %lld bytes, expected %zu", name.c_str(),
                     static_cast<long long>(st.st_size), bytes);
  ShmSegment seg;
  seg.name_ = name;
  STRATA_ASSIGN(seg.data_, mapShared(fd, bytes, name));
  seg.size_ = bytes;
  return seg;
}

Status ShmSegment::unlink() {
  if (!linked_) return Status::ok();
  linked_ = false;
  if (::shm_unlink(name_.c_str()) != 0 && errno != ENOENT) return sysError("shm_unlink", name_);
  return Status::ok();
}

}  // namespace strata
