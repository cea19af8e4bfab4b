// A stream: an in-order queue of work run by one library thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/status.h"
#include "runtime/virtual_clocks.h"

namespace strata {

class Stream {
 public:
  Stream();
  ~Stream();  // runs what is queued, then joins the thread
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void enqueue(std::function<Status()> work);
  // Waits until everything queued so far has run; returns (and clears) the first error. The
  // caller's virtual clock of every communicator that ran work here catches up with this
  // stream's (virtual_clocks.h).
  Status synchronize();
  // True when nothing is queued or running.
  bool idle();

  // This stream's key in VirtualClocks: unique in the process, never reused, never 0.
  uint64_t clockKey() const { return clockKey_; }
  // Makes synchronize() join this stream's clock in `clocks` into the caller's clock there.
  void joinOnSynchronize(const std::shared_ptr<VirtualClocks>& clocks);

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<std::function<Status()>> queue_;
  bool running_ = false;
  bool stop_ = false;
  Status firstError_;
  const uint64_t clockKey_;
  std::vector<std::weak_ptr<VirtualClocks>> joins_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace strata
