// Shared-memory transport between ranks of one host.
//
// Each rank creates one POSIX shared-memory segment holding a receive FIFO per sender (itself
// included); senders write chunks straight into the receiver's segment. Segment names travel
// through the bootstrap, every rank maps every segment, and after a barrier each owner unlinks
// its name, so nothing is left in /dev/shm even if a process dies later.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "base/deadline.h"
#include "base/status.h"
#include "transports/shm/shm_channel.h"
#include "transports/shm/shm_segment.h"
#include "transports/transport.h"

namespace strata {

struct ShmOptions {
  size_t chunkBytes = 128 * 1024;  // payload bytes per FIFO slot; STRATA_SHM_CHUNK_BYTES overrides
  int slots = 8;                   // slots per FIFO; STRATA_SHM_SLOTS overrides
  // The transport itself never blocks (init waits run inside the bootstrap, with the
  // bootstrap's deadline and abort flag); these describe the communicator it serves.
  long timeoutMs = 0;
  const AbortFlag* abort = nullptr;
};

// Connects this rank (bs.rank()) to every rank, itself included. peers[i] describes rank i;
// all must share this rank's hostId, otherwise InvalidArgument names the two ranks and hosts.
// Collective over bs: every rank must call it with the same chunk and slot counts.
Result<std::unique_ptr<Transport>> createShmTransport(Bootstrap& bs,
                                                      const std::vector<PeerInfo>& peers,
                                                      const ShmOptions& opts);

// This rank's link to one peer: sends go to the peer's segment, receives come from our own.
// One thread pushes and one thread peeks/pops at a time (they may be different threads).
class ShmEndpoint final : public Endpoint {
 public:
  ShmEndpoint(shm::ShmFifo toPeer, shm::ShmFifo fromPeer) : toPeer_(toPeer), fromPeer_(fromPeer) {}

  size_t push(const std::byte* src, size_t bytes, uint64_t msgBytes, uint64_t call) override {
    return toPeer_.push(src, bytes, msgBytes, call);
  }
  RecvChunk peek() override { return fromPeer_.peek(); }
  void pop() override { fromPeer_.pop(); }
  bool pushSignal(int channel) override { return toPeer_.pushSignal(channel); }

 private:
  shm::ShmFifo toPeer_;
  shm::ShmFifo fromPeer_;
};

class ShmTransport final : public Transport {
 public:
  // segments[i] is rank i's mapped segment (segments[rank] is our own, already unlinked).
  // peerRanks[i] is how messages name rank i (its rank in the whole communicator when this
  // transport serves one host's ranks of it); empty names rank i "i".
  ShmTransport(int rank, std::vector<int> pids, shm::SegmentLayout layout,
               std::vector<ShmSegment> segments, std::vector<int> peerRanks = {});

  const char* name() const override { return "shm"; }
  Endpoint& endpoint(int peer) override { return *endpoints_[static_cast<size_t>(peer)]; }
  Status checkPeers() override;
  void markAborted() override;
  void noteCulprit(int rank) override;
  int culprit() const override { return culprit_.load(std::memory_order_relaxed); }
  std::string describeStoppedPeers() override;

  size_t chunkBytes() const override { return layout_.chunkBytes; }
  int slots() const { return static_cast<int>(layout_.slots); }

  size_t flagBytes() const override { return shm::kFlagBytes; }
  std::byte* flagData(int rank, uint64_t seq) override {
    return flagSlot(rank, seq) + shm::kFlagDataOffset;
  }
  void postFlag(uint64_t seq, const FlagTag& tag, const std::byte* src, size_t bytes) override;
  bool flagReached(int peer, uint64_t seq, FlagTag* tag) override;

 private:
  shm::SegmentHeader& header(int rank) const {
    return *reinterpret_cast<shm::SegmentHeader*>(segments_[static_cast<size_t>(rank)].data());
  }

  std::byte* flagSlot(int rank, uint64_t seq) const {
    return segments_[static_cast<size_t>(rank)].data() + layout_.flagOffset(static_cast<int>(seq & 1));
  }

  int globalRank(int r) const { return peerRanks_[static_cast<size_t>(r)]; }
  // The transport index of a rank of the whole communicator; -1 when not on this host.
  int localIndex(int global) const;
  // The first peer stopped by a signal or a debugger; -1 if none.
  int stoppedPeer() const;

  const int rank_;
  const int selfPid_;
  std::vector<int> pids_;
  std::vector<int> peerRanks_;
  const shm::SegmentLayout layout_;
  std::vector<ShmSegment> segments_;  // outlives endpoints_, which point into it
  std::vector<std::unique_ptr<ShmEndpoint>> endpoints_;
  std::vector<const char*> flagSync_;  // TSan keys of the flags, [rank * 2 + slot]
  std::atomic<int64_t> nextLivenessCheckNs_{0};
  std::atomic<int> exitedRank_{-1};  // sticky once a peer process is seen gone
  std::atomic<int> culprit_{-1};     // the rank (whole communicator) our failure is blamed on
};

}  // namespace strata
