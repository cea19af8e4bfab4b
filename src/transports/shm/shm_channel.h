// The layout of a rank's shared-memory segment and the single-producer/single-consumer FIFO
// that carries chunks from one sender to this receiver.
//
//   segment = SegmentHeader | FIFO from rank 0 | FIFO from rank 1 | ... | FIFO from rank n-1
//   FIFO    = FifoCounters (head line, tail line) | slot 0 | slot 1 | ... | slot (slots-1)
//   slot    = SlotHeader (one cache line) | payload (chunkBytes rounded up to a cache line)
//
// The sender owns `head` (chunks pushed so far) and the slots between tail and head; the
// receiver owns `tail` (chunks popped so far). The sender writes a slot, then publishes it with
// a release store of head; the receiver reads head with acquire before touching the slot, and
// hands the slot back with a release store of tail, which the sender reads with acquire before
// overwriting it. This ordering is what makes it correct on weakly ordered CPUs.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "transports/transport.h"

namespace strata::shm {

constexpr size_t kCacheLine = 64;
constexpr uint64_t kSegmentMagic = 0x5354524154414d31ull;  // "STRATAM1"
constexpr uint32_t kLayoutVersion = 1;

static_assert(std::atomic_ref<uint64_t>::is_always_lock_free,
              "FIFO counters shared between processes need lock-free 64-bit atomics");
static_assert(std::atomic_ref<uint32_t>::is_always_lock_free,
              "the aborted flag shared between processes needs lock-free 32-bit atomics");

constexpr size_t roundUpToCacheLine(size_t n) {
  return (n + kCacheLine - 1) / kCacheLine * kCacheLine;
}

// Written by the owner before the segment name is published; read-only afterwards except for
// `aborted`, which the owner sets (release) and peers poll (acquire).
struct SegmentHeader {
  alignas(kCacheLine) uint64_t magic;
  uint32_t version;
  int32_t ownerRank;
  int32_t ownerPid;
  int32_t nranks;
  uint64_t chunkBytes;
  uint64_t slots;
  alignas(kCacheLine) uint32_t aborted;
};
static_assert(sizeof(SegmentHeader) == 2 * kCacheLine);

// head and tail each alone on a cache line so sender and receiver do not false-share.
struct FifoCounters {
  alignas(kCacheLine) uint64_t head;  // written only by the sender
  alignas(kCacheLine) uint64_t tail;  // written only by the receiver
};
static_assert(sizeof(FifoCounters) == 2 * kCacheLine);

struct SlotHeader {
  alignas(kCacheLine) uint64_t chunkBytes;  // payload bytes in this slot
  uint64_t msgBytes;                        // total bytes of the message the chunk belongs to
};
static_assert(sizeof(SlotHeader) == kCacheLine);

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
  size_t segmentBytes() const { return fifoOffset(nranks); }
};

// One side's view of one FIFO. A sender-side view only calls push, a receiver-side view only
// peek/pop; each side keeps its own counter privately and caches the other side's.
class ShmFifo {
 public:
  ShmFifo() = default;
  ShmFifo(std::byte* fifoBase, const SegmentLayout& layout)
      : counters_(reinterpret_cast<FifoCounters*>(fifoBase)),
        slotsBase_(fifoBase + sizeof(FifoCounters)),
        slots_(layout.slots),
        chunkBytes_(layout.chunkBytes),
        stride_(layout.slotStride()) {}

  // Sender: copies as much of src as the free slots hold and publishes it; never blocks.
  size_t push(const std::byte* src, size_t bytes, uint64_t msgBytes) noexcept {
    if (bytes == 0) return 0;
    if (head_ - tailSeen_ != 0)
      tailSeen_ = std::atomic_ref<uint64_t>(counters_->tail).load(std::memory_order_acquire);
    uint64_t head = head_;
    size_t done = 0;
    while (done < bytes && head - tailSeen_ < slots_) {
      size_t n = std::min(chunkBytes_, bytes - done);
      std::byte* slot = slotAt(head);
      auto* hdr = reinterpret_cast<SlotHeader*>(slot);
      hdr->chunkBytes = n;
      hdr->msgBytes = msgBytes;
      std::memcpy(slot + sizeof(SlotHeader), src + done, n);
      done += n;
      ++head;
    }
    if (head != head_) {
      std::atomic_ref<uint64_t>(counters_->head).store(head, std::memory_order_release);
      head_ = head;
    }
    return done;
  }

  // Receiver: the chunk at tail, or an empty chunk when the sender has published nothing new.
  RecvChunk peek() noexcept {
    if (tail_ == headSeen_) {
      headSeen_ = std::atomic_ref<uint64_t>(counters_->head).load(std::memory_order_acquire);
      if (tail_ == headSeen_) return {};
    }
    const std::byte* slot = slotAt(tail_);
    const auto* hdr = reinterpret_cast<const SlotHeader*>(slot);
    // Clamped so a corrupt header cannot send a reader past the slot.
    size_t bytes = std::min<uint64_t>(hdr->chunkBytes, chunkBytes_);
    return RecvChunk{slot + sizeof(SlotHeader), bytes, hdr->msgBytes};
  }

  // Receiver: hands the chunk at tail back to the sender; a no-op when nothing has arrived.
  void pop() noexcept {
    if (tail_ == headSeen_) return;
    ++tail_;
    std::atomic_ref<uint64_t>(counters_->tail).store(tail_, std::memory_order_release);
  }

 private:
  std::byte* slotAt(uint64_t seq) const {
    return slotsBase_ + static_cast<size_t>(seq % slots_) * stride_;
  }

  FifoCounters* counters_ = nullptr;
  std::byte* slotsBase_ = nullptr;
  uint64_t slots_ = 0;
  size_t chunkBytes_ = 0;
  size_t stride_ = 0;
  uint64_t head_ = 0;      // sender's own counter
  uint64_t tailSeen_ = 0;  // sender's last view of tail
  uint64_t tail_ = 0;      // receiver's own counter
  uint64_t headSeen_ = 0;  // receiver's last view of head
};

}  // namespace strata::shm
