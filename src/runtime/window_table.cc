#include "runtime/window_table.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <sstream>

#include "base/logging.h"
#include "transports/shm/shared_allocation.h"

namespace strata {
namespace {

// What a rank announces for one registration: its process, where its range lies in its
// allocation, and the socket it receives descriptors on ("-" without one). Or an error.
struct Announcement {
  bool ok = false;
  std::string error;
  int pid = 0;
  uintptr_t base = 0;  // the range's address in the announcing process
  size_t offset = 0;   // the range's offset in its allocation
  size_t allocBytes = 0;
  size_t bytes = 0;
  std::string socket;

  std::string serialize() const {
    if (!ok) return "err " + error;
    return format("ok %d %" PRIuPTR " %zu %zu %zu %s", pid, base, offset, allocBytes, bytes,
                  socket.c_str());
  }
  static Announcement parse(const std::string& s) {
    Announcement a;
    if (s.rfind("err ", 0) == 0) {
      a.error = s.substr(4);
      return a;
    }
    std::istringstream in(s);
    std::string tag;
    in >> tag >> a.pid >> a.base >> a.offset >> a.allocBytes >> a.bytes >> a.socket;
    a.ok = tag == "ok" && !in.fail();
    if (!a.ok) a.error = "malformed window announcement";
    return a;
  }
};

// The first failure any rank reported, as every rank returns it.
Status firstFailure(const std::vector<std::string>& reports, int me, const char* op) {
  for (size_t r = 0; r < reports.size(); ++r) {
    if (reports[r].empty()) continue;
    if (static_cast<int>(r) == me)
      return makeError(strataInvalidArgument, "%s", reports[r].c_str());
    return makeError(strataRemoteError, "%s: rank %zu failed: %s", op, r, reports[r].c_str());
  }
  return Status::ok();
}

Result<PeerMapping> mapPeer(int fd, size_t allocBytes, int rank, const char* op) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) != allocBytes)
    return makeError(strataSystemError,
                     "%s: rank %d's memory is not the %zu-byte allocation it announced", op, rank,
                     allocBytes);
  void* p = ::mmap(nullptr, allocBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return makeError(strataSystemError, "%s: mapping rank %d's memory: %s", op, rank,
                     std::strerror(errno));
  return PeerMapping(static_cast<std::byte*>(p), allocBytes);
}

}  // namespace

PeerMapping::~PeerMapping() {
  if (base_) ::munmap(base_, bytes_);
}

PeerMapping& PeerMapping::operator=(PeerMapping&& o) noexcept {
  if (this != &o) {
    if (base_) ::munmap(base_, bytes_);
    base_ = o.base_;
    bytes_ = o.bytes_;
    o.base_ = nullptr;
  }
  return *this;
}

WindowTable::~WindowTable() { clear(); }

Result<std::unique_ptr<Window>> mapWindow(Bootstrap& bs, const std::vector<PeerInfo>& peers,
                                          void* buff, size_t bytes, const FdWait& wait,
                                          const char* op) {
  const int me = bs.rank();
  const int n = bs.size();
  const int myPid = static_cast<int>(::getpid());
  const std::string& myHost = peers[static_cast<size_t>(me)].hostId;
  // Peers in other processes of this host exchange descriptors.
  auto exchanges = [&](int r) {
    return r != me && peers[static_cast<size_t>(r)].hostId == myHost &&
           peers[static_cast<size_t>(r)].pid != myPid;
  };
  int senders = 0;
  for (int r = 0; r < n; ++r) senders += exchanges(r) ? 1 : 0;

  Announcement mine;
  SharedAllocationInfo alloc;
  Result<FdListener> listener = makeError(strataInternalError, "no listener");
  if (buff == nullptr) {
    mine.error = format("%s: buff is NULL", op);
  } else if (bytes == 0) {
    mine.error = format("%s: size is 0 (buff %p)", op, buff);
  } else {
    auto found = sharedFind(buff, bytes, op);
    if (!found.isOk()) {
      mine.error = found.status().message();
    } else {
      alloc = found.value();
      if (senders > 0) listener = FdListener::create(senders);
      if (senders > 0 && !listener.isOk()) {
        mine.error = listener.status().message();
      } else {
        mine.ok = true;
        mine.pid = myPid;
        mine.base = reinterpret_cast<uintptr_t>(buff);
        mine.offset = static_cast<size_t>(static_cast<std::byte*>(buff) - alloc.base);
        mine.allocBytes = alloc.bytes;
        mine.bytes = bytes;
        mine.socket = senders > 0 ? listener.value().name() : "-";
      }
    }
  }
  STRATA_ASSIGN(std::vector<std::string> blobs, bs.allgather(mine.serialize()));
  std::vector<Announcement> all;
  std::vector<std::string> reports(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    all.push_back(Announcement::parse(blobs[static_cast<size_t>(r)]));
    if (!all.back().ok) reports[static_cast<size_t>(r)] = all.back().error;
  }
  STRATA_CHECK(firstFailure(reports, me, op));

  auto w = std::make_unique<Window>();
  w->base = static_cast<std::byte*>(buff);
  w->bytes = bytes;
  w->allocation = alloc.base;
  w->peerBase.assign(static_cast<size_t>(n), nullptr);
  w->peerBytes.assign(static_cast<size_t>(n), 0);
  Status mapped;
  for (int r = 0; r < n && mapped.isOk(); ++r) {
    const Announcement& a = all[static_cast<size_t>(r)];
    w->peerBytes[static_cast<size_t>(r)] = a.bytes;
    if (r == me || (a.pid == myPid && peers[static_cast<size_t>(r)].hostId == myHost))
      w->peerBase[static_cast<size_t>(r)] = reinterpret_cast<std::byte*>(a.base);
    else if (exchanges(r))
      mapped = sendFd(a.socket, r, a.pid, me, alloc.fd, wait);
  }
  std::vector<int> pidOfRank;
  for (const Announcement& a : all) pidOfRank.push_back(a.pid);
  for (int k = 0; k < senders && mapped.isOk(); ++k) {
    auto got = listener.value().receive(pidOfRank, wait);
    if (!got.isOk()) {
      mapped = got.status();
      break;
    }
    const int r = got.value().rank;
    const Announcement& a = all[static_cast<size_t>(r)];
    // The window a peer announces must lie inside the allocation it maps, or puts into it
    // would write past the mapping.
    if (a.offset > a.allocBytes || a.bytes > a.allocBytes - a.offset) {
      mapped = makeError(strataRemoteError,
                         "%s: rank %d announced a window of %zu bytes at offset %zu of a %zu-byte "
                         "allocation",
                         op, r, a.bytes, a.offset, a.allocBytes);
      break;
    }
    auto m = mapPeer(got.value().fd.get(), a.allocBytes, r, op);  // the descriptor closes here
    if (!m.isOk()) {
      mapped = m.status();
      break;
    }
    w->peerBase[static_cast<size_t>(r)] = m.value().data() + a.offset;
    w->mappings.push_back(std::move(m).value());
  }
  // Every rank learns whether every rank mapped every peer.
  STRATA_ASSIGN(std::vector<std::string> done,
                bs.allgather(mapped.isOk() ? std::string() : mapped.message()));
  STRATA_CHECK(firstFailure(done, me, op));
  return w;
}

Result<Window*> WindowTable::add(Bootstrap& bs, const std::vector<PeerInfo>& peers, void* buff,
                                 size_t bytes, const FdWait& wait) {
  STRATA_ASSIGN(std::unique_ptr<Window> w,
                mapWindow(bs, peers, buff, bytes, wait, "strataCommWindowRegister"));
  std::lock_guard<std::mutex> lock(mu_);
  w->id = nextId_++;
  sharedPin(w->allocation);
  STRATA_INFO(Subsys::kShm, "window %d: %zu bytes at %p, %zu peer allocations mapped", w->id, bytes,
              buff, w->mappings.size());
  windows_.push_back(std::move(w));
  return windows_.back().get();
}

bool WindowTable::owns(const Window* w) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::any_of(windows_.begin(), windows_.end(),
                     [&](const std::unique_ptr<Window>& x) { return x.get() == w; });
}

Status WindowTable::remove(Bootstrap& bs, Window* w) {
  const char* op = "strataCommWindowDeregister";
  std::string report;
  const int queued = w->queued.load();
  if (queued > 0)
    report = format(
        "%s: window %d (buff %p, %zu bytes) is still in use by %d queued call(s); "
        "synchronize their streams first",
        op, w->id, static_cast<void*>(w->base), w->bytes, queued);
  STRATA_ASSIGN(std::vector<std::string> reports, bs.allgather(report));
  STRATA_CHECK(firstFailure(reports, bs.rank(), op));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(windows_.begin(), windows_.end(),
                         [&](const std::unique_ptr<Window>& x) { return x.get() == w; });
  if (it == windows_.end()) return Status::ok();
  sharedUnpin((*it)->allocation);
  windows_.erase(it);  // unmaps the peers' allocations
  return Status::ok();
}

WindowSpan WindowTable::find(const void* p, size_t bytes, size_t peerBytes) {
  const auto* b = static_cast<const std::byte*>(p);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& w : windows_) {
    if (b < w->base || b + bytes > w->base + w->bytes) continue;
    const size_t off = static_cast<size_t>(b - w->base);
    bool everyone = true;
    for (size_t r = 0; r < w->peerBase.size() && everyone; ++r)
      everyone = w->peerBase[r] != nullptr && off + peerBytes <= w->peerBytes[r];
    if (everyone) return WindowSpan{w.get(), off};
  }
  return {};
}

void WindowTable::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& w : windows_) sharedUnpin(w->allocation);
  windows_.clear();
}

size_t WindowTable::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return windows_.size();
}

}  // namespace strata
