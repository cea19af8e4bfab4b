// TaggedTransport: the chunk FIFOs of transport.h over a tagged-message network (UCX, libfabric).
//
// Per ordered pair of ranks the sender owns `slots` send buffers and the receiver keeps `slots`
// receives posted, one per sequence number of its window: chunk s of the pair travels with tag
// (data, sender, s) into receive buffer s % slots, so chunks come out in order whatever order the
// network completes them in. The receiver returns a credit (its count of popped chunks) every
// half window; a sender never runs more than `slots` chunks past the last credit, so every chunk
// finds its receive already posted and memory stays bounded. Credits are cumulative, which lets
// them double as liveness probes while a rank waits. A rank that aborts sends an abort notice to
// every peer.
//
// The network is progressed inside push/peek/checkPeers and, while the communicator sits idle
// (in user code, or in a bootstrap barrier), by a background thread every millisecond or so, so
// a peer waiting for our last chunks is never stuck behind us.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "base/deadline.h"
#include "base/status.h"
#include "transports/transport.h"

namespace strata {

// One posted operation. The network keeps its per-operation state in `scratch` (libfabric's
// fi_context2 must sit at the address it is given, so scratch comes first) and `request`.
struct FabricOp {
  enum class Kind : uint8_t {
    kNone,
    kDataSend,
    kDataRecv,
    kCreditSend,
    kCreditRecv,
    kAbortSend,
    kAbortRecv
  };
  alignas(16) void* scratch[8] = {};
  void* request = nullptr;
  Kind kind = Kind::kNone;
  bool pending = false;          // posted and not completed yet
  bool cancelRequested = false;  // a cancellation we did not ask for means the peer is gone
  int peer = -1;
  uint32_t slot = 0;
};

enum class FabricEvent { kDone, kCancelled, kFailed };

// Where a network reports completions and broken peers, from inside its progress() and
// cancel(). An operation that completes at once is reported by the post's return value instead.
// Cancellations and errors both end an operation; which it was is up to the receiver of the
// event (a cancellation nobody asked for means the peer went away).
class FabricSink {
 public:
  virtual ~FabricSink() = default;
  virtual void onComplete(FabricOp* op, FabricEvent event, size_t bytes,
                          const std::string& why) = 0;
  virtual void onPeerFailed(int peer, const std::string& why) = 0;
};

// What a post did at once: completed (with `bytes` received); or will complete through
// progress(); or was refused for now because the network's queues are full or it is still
// connecting (busy), and should be tried again later.
struct Posted {
  bool done = false;
  bool busy = false;
  size_t bytes = 0;
};

// A tagged-message network as TaggedTransport uses it: whole messages matched by 64-bit tags.
// Not thread-safe: TaggedTransport serialises every call.
class TaggedFabric {
 public:
  virtual ~TaggedFabric() = default;
  virtual const char* name() const = 0;
  // What was chosen underneath ("tcp;ofi_rxm", "UCX_TLS=tcp"), for logs and messages.
  virtual std::string describe() const = 0;
  // This rank's address, published through the bootstrap.
  virtual std::string address() const = 0;
  virtual void setSink(FabricSink* sink) = 0;
  // Makes the memory of every buffer later posted usable by the network (registration).
  virtual Status registerMemory(void* base, size_t bytes) = 0;
  virtual Status connect(int peer, const std::string& address) = 0;
  virtual Result<Posted> send(int peer, uint64_t tag, const void* buf, size_t bytes,
                              FabricOp* op) = 0;
  // Receives a message whose tag equals `tag` in every bit not set in `ignore`.
  virtual Result<Posted> recv(uint64_t tag, uint64_t ignore, void* buf, size_t bytes,
                              FabricOp* op) = 0;
  // Asks a pending receive to complete as cancelled.
  virtual void cancel(FabricOp* op) = 0;
  // Runs the network once; true when something completed.
  virtual bool progress() = 0;
  // Drops the connection to a failed peer at once; its pending operations complete with errors.
  virtual void closePeer(int peer) = 0;
  // Closes every connection: flushing what was sent unless `force`, within the deadline.
  virtual void closeAll(bool force, const Deadline& deadline) = 0;
  virtual LinkCost cost() const = 0;
  // The payload per message this network moves best when each message also carries
  // headerBytes of its own (STRATA_NET_CHUNK_BYTES overrides it).
  virtual size_t defaultChunkBytes(size_t headerBytes) const = 0;
};

// Sizes of the chunk window; STRATA_NET_CHUNK_BYTES and STRATA_NET_SLOTS override the defaults.
struct NetOptions {
  size_t chunkBytes = 0;  // 0: the network's default
  int slots = 8;
  // connect[r]: whether this rank talks to rank r over the network (r may be this rank; then
  // its chunks loop back in memory). Must be symmetric across ranks.
  std::vector<char> connect;
};

// Bytes every network chunk carries ahead of its payload.
inline constexpr size_t kNetChunkHeaderBytes = 64;
// Ranks a tagged transport can address (its tags hold 22 bits of rank).
inline constexpr int kMaxNetRanks = 1 << 22;

// Applies STRATA_NET_CHUNK_BYTES / STRATA_NET_SLOTS to `in`.
Result<NetOptions> resolveNetOptions(const NetOptions& in);

// Publishes this rank's network address (or why the network could not be opened), connects to
// every rank in opts.connect and returns the transport. Collective over bs. When the network
// could not be opened on some rank, every rank fails and sets *unavailable (if given), so all of
// them can try another network alike.
Result<std::unique_ptr<Transport>> connectTaggedTransport(
    Bootstrap& bs, const std::vector<PeerInfo>& peers, Result<std::unique_ptr<TaggedFabric>> fabric,
    const NetOptions& opts, bool* unavailable = nullptr);

// The local half of connectTaggedTransport, between its two exchanges: builds the transport over
// an open network whose peers' addresses are known (addresses[r] for every rank r with
// opts.connect[r]), allocating the buffers, connecting and posting the receives. Not collective.
Result<std::unique_ptr<Transport>> startTaggedTransport(int rank,
                                                        const std::vector<PeerInfo>& peers,
                                                        std::unique_ptr<TaggedFabric> fabric,
                                                        const NetOptions& opts,
                                                        const std::vector<std::string>& addresses);

}  // namespace strata
