// A stream: an in-order queue of work run by one library thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "base/status.h"

namespace strata {

class Stream {
 public:
  Stream();
  ~Stream();  // runs what is queued, then joins the thread
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void enqueue(std::function<Status()> work);
  // Waits until everything queued so far has run; returns (and clears) the first error.
  Status synchronize();
  // True when nothing is queued or running.
  bool idle();

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<std::function<Status()>> queue_;
  bool running_ = false;
  bool stop_ = false;
  Status firstError_;
  std::thread thread_;
};

}  // namespace strata
