#include "runtime/virtual_clocks.h"

#include <algorithm>

namespace strata {

int64_t VirtualClocks::now(uint64_t stream) {
  std::lock_guard<std::mutex> g(mutex_);
  auto it = clocks_.find(stream);
  return it == clocks_.end() ? 0 : it->second;
}

int64_t VirtualClocks::charge(uint64_t stream, int64_t stampPs, int64_t ps) {
  std::lock_guard<std::mutex> g(mutex_);
  int64_t& c = clocks_[stream];
  c = std::max(c, stampPs) + ps;
  latest_ = std::max(latest_, c);
  return c;
}

void VirtualClocks::advance(uint64_t stream, int64_t atPs) {
  std::lock_guard<std::mutex> g(mutex_);
  int64_t& c = clocks_[stream];
  c = std::max(c, atPs);
  latest_ = std::max(latest_, c);
}

void VirtualClocks::join(uint64_t stream) {
  std::lock_guard<std::mutex> g(mutex_);
  auto it = clocks_.find(stream);
  if (it == clocks_.end()) return;
  int64_t& caller = clocks_[kCaller];
  caller = std::max(caller, clocks_[stream]);
}

int64_t VirtualClocks::latest() {
  std::lock_guard<std::mutex> g(mutex_);
  return latest_;
}

}  // namespace strata
