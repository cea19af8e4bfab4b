// Transport: moves bytes, signals and one-sided writes between ranks; knows nothing about
// collectives or plans.
//
// Each ordered pair of ranks has a FIFO of chunks. A sender pushes the bytes of a message; the
// receiver peeks chunks in order, consumes them in place (copy or reduce) and pops them. Every
// chunk carries the total size of its message and an opaque 64-bit identity of the call the
// message belongs to (the executor's CallTag; the transport only carries it), so a receiver can
// detect a mismatched peer. A
// signal is a chunk without payload that names a channel; it travels behind everything pushed
// before it, so a rank that sees it knows those bytes have landed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace strata {

// What a rank tells its peers about itself at init.
struct PeerInfo {
  int rank = -1;
  int pid = 0;
  std::string hostId;  // ranks with equal hostId share a host (shared memory is possible)

  std::string serialize() const;
  static Result<PeerInfo> parse(const std::string& blob);
};

// Nominal cost of one message to a peer on another host: latency alpha in seconds and beta in
// seconds per byte. Zero means the transport has no opinion.
struct LinkCost {
  double alpha = 0;
  double beta = 0;
};

struct RecvChunk {
  const std::byte* data = nullptr;  // null when nothing has arrived
  size_t bytes = 0;
  uint64_t msgBytes = 0;  // total size of the message this chunk belongs to
  int signal = -1;        // >= 0: a signal on this channel, with no payload
  uint64_t call = 0;      // the identity of the call the message belongs to (data chunks)
  bool empty() const { return data == nullptr; }
};

// One rank's view of its link to one peer (or to itself).
class Endpoint {
 public:
  virtual ~Endpoint() = default;

  // Copies up to `bytes` from src as the next part of a message of msgBytes bytes belonging to
  // call `call`. Returns the number of bytes accepted now; 0 when the FIFO is full. Never blocks.
  virtual size_t push(const std::byte* src, size_t bytes, uint64_t msgBytes, uint64_t call) = 0;

  // The oldest chunk from the peer not yet popped; empty when none has arrived. Never blocks.
  virtual RecvChunk peek() = 0;

  // Releases the chunk returned by peek back to the sender.
  virtual void pop() = 0;

  // Posts one signal on `channel` (0 <= channel < 65536) behind every chunk pushed before it.
  // false when the FIFO is full now (try again). Never blocks.
  virtual bool pushSignal(int channel) = 0;
};

// What a rank posts with its flag, so that ranks which disagree on their calls fail instead of
// reading each other's data: the call's tag (plan/call_tag.h), its size in bytes and its root.
struct FlagTag {
  uint64_t call = 0;
  uint64_t bytes = 0;
  int64_t root = -1;
  bool operator==(const FlagTag&) const = default;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;

  // The endpoint to `peer` (which may be this rank itself).
  virtual Endpoint& endpoint(int peer) = 0;

  // RemoteError naming the first peer that exited or aborted; ok otherwise. Cheap enough to call
  // every few milliseconds while waiting.
  virtual Status checkPeers() = 0;

  // Tells every peer that this rank aborted, so their waits end with strataRemoteError. The
  // notice carries the rank this rank blamed for its own failure (a peer that exited, is
  // stopped, or the one noteCulprit() named), so that peers report the root cause.
  virtual void markAborted() = 0;

  // The rank (in the whole communicator) a wait of this rank failed on, e.g. the peer a
  // timed-out receive was waiting for. Weaker evidence than a peer seen dead or stopped.
  virtual void noteCulprit(int /*rank*/) {}
  // The rank this transport blames for this rank's failure so far; -1 when none.
  virtual int culprit() const { return -1; }

  // Peers that are alive but cannot make progress (stopped by a signal or a debugger), as
  // "rank 2 (pid 123) is stopped"; empty when none is known.
  virtual std::string describeStoppedPeers() { return {}; }

  // Bytes per FIFO chunk: the granularity algorithms pipeline at.
  virtual size_t chunkBytes() const = 0;

  // One-sided writes into memory a peer registered, for media that have them. Without them,
  // algorithms use send/recv instead and put() fails with InvalidUsage.
  virtual bool supportsPut() const { return false; }
  // Makes [base, base + bytes) this rank's window `id`, which peers may put into. The memory
  // must stay valid until the window is replaced or the transport is destroyed.
  virtual Status registerWindow(int id, void* base, size_t bytes);
  // Writes src into peer's window `window` at byte `offset`; complete when it returns ok.
  virtual Status put(int peer, int window, size_t offset, const std::byte* src, size_t bytes);

  // Flags (shared memory only): a small control segment every rank of the host maps, holding
  // per rank two slots of a flag and flagBytes() of data next to it. Flag plans (plan.h) use
  // slot (seq & 1) of call number seq. flagBytes() is 0 without flags.
  virtual size_t flagBytes() const { return 0; }
  // The data area of rank's slot for call number seq, as mapped in this process.
  virtual std::byte* flagData(int /*rank*/, uint64_t /*seq*/) { return nullptr; }
  // Copies `bytes` at src into this rank's slot (seq & 1) and raises its flag to seq with the
  // call's tag next to it (release: whoever sees the flag sees the data and the tag).
  virtual void postFlag(uint64_t /*seq*/, const FlagTag& /*tag*/, const std::byte* /*src*/,
                        size_t /*bytes*/) {}
  // Whether peer's flag of slot (seq & 1) has reached seq (acquire); then *tag is what the peer
  // posted with it.
  virtual bool flagReached(int /*peer*/, uint64_t /*seq*/, FlagTag* /*tag*/) { return false; }

  // The alpha/beta of links to peers on other hosts. Level 1 of a communicator's host-derived
  // topology takes its costs from here.
  virtual LinkCost interHostCost() const { return {}; }

  // Virtual time, for transports that model it (sim); the others keep these no-ops. When
  // modelsTime(), the executor announces each phase in program order: phaseBegin(), then for
  // every op of the phase in op order postSend / postPut / postSignal / postRecv / postWait /
  // chargeCompute (local reductions), and phaseEnd() once every op of the phase has completed.
  // A wait is timed as a receive of the bytes its signal announces: the signal's stamp covers
  // the puts before it.
  virtual bool modelsTime() const { return false; }
  virtual void phaseBegin() {}
  virtual void postSend(int /*peer*/, size_t /*bytes*/) {}
  virtual void postPut(int /*peer*/, size_t /*bytes*/) {}
  virtual void postSignal(int /*peer*/) {}
  virtual void postRecv(int /*peer*/, size_t /*bytes*/, bool /*reduces*/) {}
  virtual void postWait(int /*peer*/, size_t /*bytes*/) {}
  virtual void chargeCompute(size_t /*bytes*/) {}
  virtual void phaseEnd() {}
  // This rank's virtual clock in picoseconds (0 without one).
  virtual int64_t virtualTimePs() const { return 0; }
  // The rank was busy elsewhere (the caller's compute, another stream) until atPs: the next
  // phase starts no earlier. Never moves the clock back.
  virtual void advanceClockTo(int64_t /*atPs*/) {}
};

}  // namespace strata
