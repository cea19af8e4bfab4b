// A communicator's registered windows (strataCommWindowRegister): for each window, this rank's
// range and where every peer's range of the same registration is mapped in this process.
// Ranks of one process (threads) read each other's memory directly; ranks in other processes of
// the host send the memfd of their allocation over a Unix socket (transports/shm/fd_exchange.h)
// and it is mapped here. Mappings end on deregistration and when the table is destroyed.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "bootstrap/bootstrap.h"
#include "transports/shm/fd_exchange.h"
#include "transports/transport.h"

namespace strata {

// A peer's allocation mapped into this process; unmapped on destruction.
class PeerMapping {
 public:
  PeerMapping() = default;
  PeerMapping(std::byte* base, size_t bytes) : base_(base), bytes_(bytes) {}
  ~PeerMapping();
  PeerMapping(PeerMapping&& o) noexcept : base_(o.base_), bytes_(o.bytes_) { o.base_ = nullptr; }
  PeerMapping& operator=(PeerMapping&& o) noexcept;
  PeerMapping(const PeerMapping&) = delete;
  PeerMapping& operator=(const PeerMapping&) = delete;
  std::byte* data() const { return base_; }

 private:
  std::byte* base_ = nullptr;
  size_t bytes_ = 0;
};

struct Window {
  int id = 0;                 // registration order: the same window on every rank
  std::byte* base = nullptr;  // this rank's range
  size_t bytes = 0;
  const void* allocation = nullptr;   // the strataMemAlloc allocation it lies in (pinned)
  std::vector<std::byte*> peerBase;   // rank r's range as mapped here (this rank: base)
  std::vector<size_t> peerBytes;      // rank r's range size
  std::vector<PeerMapping> mappings;  // allocations of other processes, mapped for this window
  std::atomic<int> queued{0};         // calls queued on streams that use this window
};

// Where a call's buffer lies in a window: the window and the byte offset, the same on every
// rank when buffers are symmetric.
struct WindowSpan {
  Window* window = nullptr;
  size_t offset = 0;
};

// Collective over bs: maps every peer's [buff, buff + bytes) of the same registration into this
// process (ranks of this process: their addresses) and returns the window, owned by the caller
// (its mappings end with it); not in any table, without an id. On any rank's failure every rank
// returns an error, the failing rank's naming its argument; `op` names the call in messages.
Result<std::unique_ptr<Window>> mapWindow(Bootstrap& bs, const std::vector<PeerInfo>& peers,
                                          void* buff, size_t bytes, const FdWait& wait,
                                          const char* op);

class WindowTable {
 public:
  WindowTable() = default;
  ~WindowTable();

  // Collective over bs. peers[r] describes rank r (pid, host). On any rank's failure every rank
  // returns an error; the failing rank's names its argument.
  Result<Window*> add(Bootstrap& bs, const std::vector<PeerInfo>& peers, void* buff, size_t bytes,
                      const FdWait& wait);
  // Collective over bs. InvalidArgument when a queued call still uses the window.
  Status remove(Bootstrap& bs, Window* w);
  // Whether w is one of this table's live windows.
  bool owns(const Window* w);

  // The window holding [p, p + bytes) on this rank whose every peer range covers
  // [offset, offset + peerBytes) too (so peers' copies can be addressed), or none. peerBytes is
  // bytes unless the ranks' extents differ (AllToAllv: each rank checks its own extent against
  // its own range, and a peer's block lies inside the extent that peer checked).
  WindowSpan find(const void* p, size_t bytes, size_t peerBytes);
  WindowSpan find(const void* p, size_t bytes) { return find(p, bytes, bytes); }

  // Drops every window (communicator destroy).
  void clear();
  size_t size();

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<Window>> windows_;
  int nextId_ = 0;
};

}  // namespace strata
