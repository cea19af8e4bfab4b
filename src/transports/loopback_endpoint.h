// LoopbackEndpoint: the chunks a rank sends to itself when a network transport serves every pair
// of ranks (STRATA_TRANSPORT=ucx-all / ofi-all): a FIFO in process memory, one thread pushing and
// popping.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "transports/transport.h"

namespace strata {

class LoopbackEndpoint final : public Endpoint {
 public:
  LoopbackEndpoint(size_t chunkBytes, int slots)
      : chunk_(chunkBytes),
        slots_(static_cast<uint64_t>(slots)),
        data_(chunkBytes * static_cast<size_t>(slots)),
        sizes_(static_cast<size_t>(slots)),
        msgBytes_(static_cast<size_t>(slots)),
        calls_(static_cast<size_t>(slots)),
        signals_(static_cast<size_t>(slots)) {}

  size_t push(const std::byte* src, size_t bytes, uint64_t msgBytes, uint64_t call) override {
    size_t done = 0;
    while (done < bytes && head_ - tail_ < slots_) {
      size_t n = std::min(chunk_, bytes - done);
      size_t i = static_cast<size_t>(head_ % slots_);
      std::memcpy(data_.data() + i * chunk_, src + done, n);
      sizes_[i] = n;
      msgBytes_[i] = msgBytes;
      calls_[i] = call;
      signals_[i] = -1;
      done += n;
      ++head_;
    }
    return done;
  }
  RecvChunk peek() override {
    if (tail_ == head_) return {};
    size_t i = static_cast<size_t>(tail_ % slots_);
    return RecvChunk{data_.data() + i * chunk_, sizes_[i], msgBytes_[i], signals_[i], calls_[i]};
  }
  void pop() override {
    if (tail_ != head_) ++tail_;
  }
  bool pushSignal(int channel) override {
    if (head_ - tail_ >= slots_) return false;
    const size_t i = static_cast<size_t>(head_++ % slots_);
    sizes_[i] = 0;
    msgBytes_[i] = 0;
    calls_[i] = 0;
    signals_[i] = channel;
    return true;
  }

 private:
  size_t chunk_;
  uint64_t slots_;
  std::vector<std::byte> data_;
  std::vector<size_t> sizes_;
  std::vector<uint64_t> msgBytes_;
  std::vector<uint64_t> calls_;
  std::vector<int> signals_;  // -1: a data chunk
  uint64_t head_ = 0, tail_ = 0;
};

}  // namespace strata
