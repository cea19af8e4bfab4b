#include "runtime/stream.h"

namespace strata {

Stream::Stream() : thread_([this] { loop(); }) {}

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
  return s;
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
