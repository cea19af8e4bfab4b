// The sim's chunk FIFO between two threads of one process: a single-producer single-consumer
// ring of slots in ordinary memory. Each chunk carries its message's total size and, on the
// first chunk of a message, the sender's MsgStamp. Slot buffers grow to the largest chunk they
// have held, so small-message runs stay small.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "transports/sim/link_model.h"

namespace strata::sim {

struct SimChunk {
  std::unique_ptr<std::byte[]> data;
  size_t capacity = 0;
  size_t bytes = 0;
  uint64_t msgBytes = 0;
  uint64_t call = 0;   // identity of the call the message belongs to
  bool first = false;  // first chunk of its message (or a signal): `stamp` is valid
  int signal = -1;     // >= 0: a signal on this channel, no payload
  MsgStamp stamp;
};

class SimFifo {
 public:
  static constexpr uint64_t kSlots = 8;

  // Copies a chunk in; false when every slot is full.
  bool push(const std::byte* src, size_t bytes, uint64_t msgBytes, uint64_t call, bool first,
            const MsgStamp& stamp, int signal = -1) {
    const uint64_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_.load(std::memory_order_acquire) >= kSlots) return false;
    SimChunk& c = slots_[t % kSlots];
    if (c.capacity < bytes) {
      c.data = std::make_unique_for_overwrite<std::byte[]>(bytes);
      c.capacity = bytes;
    }
    if (bytes > 0) std::memcpy(c.data.get(), src, bytes);
    c.bytes = bytes;
    c.msgBytes = msgBytes;
    c.call = call;
    c.first = first;
    c.stamp = stamp;
    c.signal = signal;
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // The oldest chunk, or null when none is waiting.
  const SimChunk* front() const {
    const uint64_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_.load(std::memory_order_acquire)) return nullptr;
    return &slots_[h % kSlots];
  }

  void pop() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

 private:
  SimChunk slots_[kSlots];
  alignas(64) std::atomic<uint64_t> tail_{0};  // written by the sender
  alignas(64) std::atomic<uint64_t> head_{0};  // written by the receiver
};

}  // namespace strata::sim
