#include "runtime/stream.h"

#include <atomic>

namespace strata {
namespace {

uint64_t nextClockKey() {
  static std::atomic<uint64_t> next{VirtualClocks::kCaller + 1};
  return next.fetch_add(1);
}

}  // namespace

Stream::Stream() : clockKey_(nextClockKey()), thread_([this] { loop(); }) {}

Stream::~Stream() {
  {
    std::lock_guard<std::mutex> g(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Stream::enqueue(std::function<Status()> work) {
  {
    std::lock_guard<std::mutex> g(mutex_);
    queue_.push_back(std::move(work));
  }
  wake_.notify_one();
}

Status Stream::synchronize() {
  std::unique_lock<std::mutex> lk(mutex_);
  drained_.wait(lk, [&] { return queue_.empty() && !running_; });
  Status s = firstError_;
  firstError_ = Status::ok();
  for (auto it = joins_.begin(); it != joins_.end();) {
    std::shared_ptr<VirtualClocks> clocks = it->lock();
    if (!clocks) {
      it = joins_.erase(it);
      continue;
    }
    clocks->join(clockKey_);
    ++it;
  }
  return s;
}

void Stream::joinOnSynchronize(const std::shared_ptr<VirtualClocks>& clocks) {
  std::lock_guard<std::mutex> g(mutex_);
  for (const auto& w : joins_)
    if (w.lock() == clocks) return;
  joins_.push_back(clocks);
}

bool Stream::idle() {
  std::lock_guard<std::mutex> g(mutex_);
  return queue_.empty() && !running_;
}

void Stream::loop() {
  std::unique_lock<std::mutex> lk(mutex_);
  while (true) {
    wake_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stop_) return;
      continue;
    }
    std::function<Status()> work = std::move(queue_.front());
    queue_.pop_front();
    running_ = true;
    lk.unlock();
    Status s = work();
    lk.lock();
    running_ = false;
    if (!s.isOk() && firstError_.isOk()) firstError_ = s;
    if (queue_.empty()) drained_.notify_all();
  }
}

}  // namespace strata
