// The layout of a rank's shared-memory segment and the single-producer/single-consumer FIFO
// that carries chunks from one sender to this receiver.
//
//   segment = SegmentHeader | FIFO from rank 0 | FIFO from rank 1 | ... | FIFO from rank n-1
//             | flag slot 0 | flag slot 1
//   FIFO    = FifoCounters (tail line) | slot 0 | slot 1 | ... | slot (slots-1)
//   slot    = SlotHeader (one cache line) | payload (chunkBytes rounded up to a cache line)
//
// The sender owns the slots between tail and its private head; the receiver owns `tail` (chunks
// popped so far). The sender writes a slot's payload and sizes, then publishes it with a release
// store of the slot's sequence number (chunk index + 1); the receiver polls that number with
// acquire before touching the slot, and hands the slot back with a release store of tail, which
// the sender reads with acquire (only when the FIFO looks full) before overwriting it. This
// ordering is what makes it correct on weakly ordered CPUs. Chunks of up to kInlineBytes travel
// inside the header line, so a small message costs the receiver a single cache-line transfer.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/tsan_sync.h"
#include "transports/transport.h"

namespace strata::shm {

constexpr size_t kCacheLine = 64;
constexpr uint64_t kSegmentMagic = 0x5354524154414d31ull;  // "STRATAM1"
constexpr uint32_t kLayoutVersion = 4;

static_assert(std::atomic_ref<uint64_t>::is_always_lock_free,
              "FIFO counters shared between processes need lock-free 64-bit atomics");
static_assert(std::atomic_ref<uint32_t>::is_always_lock_free,
              "the aborted flag shared between processes needs lock-free 32-bit atomics");

constexpr size_t roundUpToCacheLine(size_t n) {
  return (n + kCacheLine - 1) / kCacheLine * kCacheLine;
}

// Written by the owner before the segment name is published; read-only afterwards except for
// `aborted`, which the owner sets (release) and peers poll (acquire), and `abortCause`, written
// just before it: the rank (in the whole communicator) the owner blamed for its own failure, or
// -1, so that peers name the root cause rather than the rank that merely gave up.
struct SegmentHeader {
  alignas(kCacheLine) uint64_t magic;
  uint32_t version;
  int32_t ownerRank;
  int32_t ownerPid;
  int32_t nranks;
  uint64_t chunkBytes;
  uint64_t slots;
  alignas(kCacheLine) uint32_t aborted;
  int32_t abortCause;
};
static_assert(sizeof(SegmentHeader) == 2 * kCacheLine);

// tail alone on its cache line so the sender's slot writes do not false-share with it.
struct FifoCounters {
  alignas(kCacheLine) uint64_t tail;  // written only by the receiver
};
static_assert(sizeof(FifoCounters) == kCacheLine);

constexpr size_t kInlineBytes = 32;

struct SlotHeader {
  alignas(kCacheLine) uint64_t seq;  // chunk index + 1 once published; written last
  uint32_t chunkBytes;               // payload bytes in this slot (chunks are < 4 GiB)
  uint32_t signal;                   // 0: data; c + 1: a signal on channel c, no payload
  uint64_t msgBytes;                 // total bytes of the message the chunk belongs to
  uint64_t call;                     // identity of the call the message belongs to
  std::byte inlineData[kInlineBytes];  // the payload itself when chunkBytes <= kInlineBytes
};
static_assert(sizeof(SlotHeader) == kCacheLine);

// A flag slot (small calls, plan.h's flag plans), cache-line aligned: the owner's flag (the
// uint64_t sequence number of the last call that posted it), the call's FlagTag (24 bytes) and
// the data. The owner writes the data and the tag, then stores the flag with release; peers
// load it with acquire before reading the rest. Up to 32 bytes of data share the flag's cache
// line: one line moves per peer.
constexpr size_t kFlagDataOffset = 32;
static_assert(sizeof(uint64_t) + sizeof(FlagTag) <= kFlagDataOffset);
// Data bytes per flag slot: the largest per-rank contribution a flag plan may carry.
constexpr size_t kFlagBytes = 4096;
constexpr size_t kFlagSlotStride = roundUpToCacheLine(kFlagDataOffset + kFlagBytes);

// Sizes and offsets of one segment, identical on every rank of a transport.
struct SegmentLayout {
  int nranks = 0;
  size_t chunkBytes = 0;
  uint64_t slots = 0;

  size_t slotStride() const { return sizeof(SlotHeader) + roundUpToCacheLine(chunkBytes); }
  size_t fifoBytes() const {
    return sizeof(FifoCounters) + static_cast<size_t>(slots) * slotStride();
  }
  size_t fifoOffset(int sender) const {
    return sizeof(SegmentHeader) + static_cast<size_t>(sender) * fifoBytes();
  }
  size_t flagOffset(int slot) const {
    return fifoOffset(nranks) + static_cast<size_t>(slot) * kFlagSlotStride;
  }
  size_t segmentBytes() const { return flagOffset(2); }
};

// One side's view of one FIFO. A sender-side view only calls push, a receiver-side view only
// peek/pop; each side keeps its own counter privately and caches the other side's.
class ShmFifo {
 public:
  ShmFifo() = default;
  // syncKey (tsanSyncKey, null outside ThreadSanitizer builds) names this FIFO's edges for TSan:
  // syncKey[0] published chunks, syncKey[1] slots handed back.
  ShmFifo(std::byte* fifoBase, const SegmentLayout& layout, const char* syncKey = nullptr)
      : sync_(syncKey),
        counters_(reinterpret_cast<FifoCounters*>(fifoBase)),
        slotsBase_(fifoBase + sizeof(FifoCounters)),
        slots_(layout.slots),
        chunkBytes_(layout.chunkBytes),
        stride_(layout.slotStride()) {}

  // Sender: copies as much of src as the free slots hold and publishes it; never blocks.
  size_t push(const std::byte* src, size_t bytes, uint64_t msgBytes, uint64_t call) noexcept {
    size_t done = 0;
    while (done < bytes) {
      if (head_ - tailSeen_ >= slots_) {
        // Looks full: only now is the receiver's counter worth a cache miss.
        tailSeen_ = std::atomic_ref<uint64_t>(counters_->tail).load(std::memory_order_acquire);
        tsanAcquire(handedBack());
        if (head_ - tailSeen_ >= slots_) break;
      }
      const size_t n = std::min(chunkBytes_, bytes - done);
      std::byte* slot = slotAt(head_);
      auto* hdr = reinterpret_cast<SlotHeader*>(slot);
      hdr->chunkBytes = static_cast<uint32_t>(n);
      hdr->signal = 0;
      hdr->msgBytes = msgBytes;
      hdr->call = call;
      std::memcpy(n <= kInlineBytes ? hdr->inlineData : slot + sizeof(SlotHeader), src + done, n);
      ++head_;
      tsanRelease(published());
      std::atomic_ref<uint64_t>(hdr->seq).store(head_, std::memory_order_release);
      done += n;
    }
    return done;
  }

  // Receiver: the chunk at tail, or an empty chunk when the sender has published nothing new.
  RecvChunk peek() noexcept {
    const std::byte* slot = slotAt(tail_);
    auto* hdr = reinterpret_cast<SlotHeader*>(const_cast<std::byte*>(slot));
    if (std::atomic_ref<uint64_t>(hdr->seq).load(std::memory_order_acquire) != tail_ + 1) return {};
    tsanAcquire(published());
    // Clamped so a corrupt header cannot send a reader past the slot.
    const size_t bytes = std::min<size_t>(hdr->chunkBytes, chunkBytes_);
    const std::byte* data = bytes <= kInlineBytes ? hdr->inlineData : slot + sizeof(SlotHeader);
    return RecvChunk{data, bytes, hdr->msgBytes, static_cast<int>(hdr->signal) - 1, hdr->call};
  }

  // Sender: publishes a signal on `channel` behind every chunk pushed before it.
  bool pushSignal(int channel) noexcept {
    if (head_ - tailSeen_ >= slots_) {
      tailSeen_ = std::atomic_ref<uint64_t>(counters_->tail).load(std::memory_order_acquire);
      tsanAcquire(handedBack());
      if (head_ - tailSeen_ >= slots_) return false;
    }
    auto* hdr = reinterpret_cast<SlotHeader*>(slotAt(head_));
    hdr->chunkBytes = 0;
    hdr->signal = static_cast<uint32_t>(channel) + 1;
    hdr->msgBytes = 0;
    hdr->call = 0;
    ++head_;
    tsanRelease(published());
    std::atomic_ref<uint64_t>(hdr->seq).store(head_, std::memory_order_release);
    return true;
  }

  // Receiver: hands the chunk at tail back to the sender; a no-op when nothing has arrived.
  void pop() noexcept {
    const auto* hdr = reinterpret_cast<SlotHeader*>(slotAt(tail_));
    if (std::atomic_ref<uint64_t>(const_cast<SlotHeader*>(hdr)->seq).load(std::memory_order_acquire) !=
        tail_ + 1)
      return;
    ++tail_;
    tsanRelease(handedBack());
    std::atomic_ref<uint64_t>(counters_->tail).store(tail_, std::memory_order_release);
  }

 private:
  const char* published() const { return sync_; }
  const char* handedBack() const { return sync_ ? sync_ + 1 : nullptr; }
  std::byte* slotAt(uint64_t seq) const {
    return slotsBase_ + static_cast<size_t>(seq % slots_) * stride_;
  }

  const char* sync_ = nullptr;
  FifoCounters* counters_ = nullptr;
  std::byte* slotsBase_ = nullptr;
  uint64_t slots_ = 0;
  size_t chunkBytes_ = 0;
  size_t stride_ = 0;
  uint64_t head_ = 0;      // sender's own counter: chunks published
  uint64_t tailSeen_ = 0;  // sender's last view of tail
  uint64_t tail_ = 0;      // receiver's own counter: chunks popped
};

}  // namespace strata::shm
