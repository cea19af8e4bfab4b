// strata.Stream and strata.Request: calls queued on a Strata stream return a Request whose
// wait() and is_completed() follow the stream's in-order completion. The buffers of queued calls
// stay referenced until the stream has run them, and those of calls inside a group until the
// group ends, so a temporary array can never be freed under the library.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "buffer_arg.h"
#include "errors.h"
#include "strata/strata.h"

namespace strata::python {

class CommHandle;

class StreamState {
 public:
  StreamState();
  ~StreamState();
  StreamState(const StreamState&) = delete;
  StreamState& operator=(const StreamState&) = delete;

  strataStream_t handle(const char* op) const;
  // Records a call just queued: returns its ticket (1, 2, ... in queue order).
  uint64_t issue(std::vector<BufferArg> buffers);
  // Records a call that failed before it could be queued.
  uint64_t issueFailed(const CallError& error);
  // Waits (without the GIL) for everything queued; raises the error of a failed call if it
  // covers ticket (0: any call not yet known to have run). comm names the call's communicator.
  void synchronize(uint64_t ticket, const std::shared_ptr<CommHandle>& comm);
  // True once ticket (0: everything queued) has run, successfully or not; never blocks.
  bool completed(uint64_t ticket, const std::shared_ptr<CommHandle>& comm);
  // Waits for the queued work and frees the stream; later calls raise InvalidUsageError.
  void close();

 private:
  struct Failure {
    uint64_t first, last;  // tickets the failed synchronisation covered
    CallError error;
  };
  // Everything up to `upTo` has run; res is what the library said about it.
  void settle(uint64_t upTo, strataResult_t res, const char* what,
              const std::shared_ptr<CommHandle>& comm);
  // Raises the first failure covering a ticket in [first, last].
  void raiseFailure(uint64_t first, uint64_t last) const;

  strataStream_t stream_ = nullptr;
  uint64_t issued_ = 0;
  uint64_t completed_ = 0;
  std::deque<std::pair<uint64_t, std::vector<BufferArg>>> pending_;
  std::vector<Failure> failures_;
};

// A queued call's handle.
class Request {
 public:
  Request(std::shared_ptr<StreamState> stream, std::shared_ptr<CommHandle> comm);
  void wait();
  bool isCompleted();
  // Called when the call is really queued (at once, or when its group ends).
  void setTicket(uint64_t ticket) { ticket_ = ticket; }

 private:
  std::shared_ptr<StreamState> stream_;
  std::shared_ptr<CommHandle> comm_;
  uint64_t ticket_ = 0;  // 0 until queued
};

// Calls between group_start() and group_end() run or queue only at the group's end; until then
// the binding holds their buffers, and their requests get tickets when the group ends.
class GroupState {
 public:
  static bool active();
  static void start();
  static void end();
  // Holds the buffers of a call made inside the group (with its request for stream calls).
  static void defer(std::vector<BufferArg> buffers, std::shared_ptr<StreamState> stream,
                    std::shared_ptr<Request> request);
};

void bindStream(pybind11::module_& m);

}  // namespace strata::python
