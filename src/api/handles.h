// What the C handles point to, their magic values, and the error guard every entry point uses.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <string>

#include "api/handle_registry.h"
#include "runtime/comm.h"
#include "base/logging.h"
#include "base/status.h"
#include "runtime/stream.h"
#include "strata/strata.h"

struct strataComm {
  static constexpr uint64_t kMagic = 0x5354524154414331ull;  // "STRATAC1"
  uint64_t magic = kMagic;
  std::unique_ptr<strata::Comm> comm;
};

struct strataStream {
  static constexpr uint64_t kMagic = 0x5354524154415331ull;  // "STRATAS1"
  uint64_t magic = kMagic;
  std::unique_ptr<strata::Stream> stream;
};

struct strataWindow {
  static constexpr uint64_t kMagic = 0x5354524154415731ull;  // "STRATAW1"
  uint64_t magic = kMagic;
  strata::Window* window = nullptr;  // owned by the communicator's window table
};

namespace strata::api {

// Records s as the thread's last error (and the communicator's, when given) and returns its code.
strataResult_t finish(const Status& s, Comm* comm = nullptr);

// Checks a communicator handle; `what` names the argument.
Result<Comm*> checkComm(strataComm_t comm, const char* op, const char* what = "comm");
Result<Stream*> checkStream(strataStream_t stream, const char* op);

// Registers a new handle as live and hands ownership to the caller.
template <typename H>
H* publishHandle(std::unique_ptr<H> h, HandleKind kind) {
  registerHandle(h.get(), kind);
  return h.release();
}

// Takes a live handle back and frees it.
template <typename H>
void retireHandle(H* h, HandleKind kind) {
  unregisterHandle(h, kind);
  h->magic = 0;
  delete h;
}

// Runs body, converting any escaping C++ exception into a status: nothing crosses the C edge.
template <typename F>
strataResult_t guard(const char* op, F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return finish(makeError(strataSystemError, "%s: out of memory", op));
  } catch (const std::exception& e) {
    return finish(makeError(strataInternalError, "%s: unexpected exception: %s", op, e.what()));
  } catch (...) {
    return finish(makeError(strataInternalError, "%s: unexpected exception", op));
  }
}

// The guard of an entry point on a communicator: checks the handle (an error there is recorded
// without a communicator), then runs body(Comm*) with this rank named in the logs.
template <typename F>
strataResult_t onComm(const char* op, strataComm_t handle, F&& body) {
  return guard(op, [&]() -> strataResult_t {
    auto c = checkComm(handle, op);
    if (!c.isOk()) return finish(c.status());
    Comm* comm = c.value();
    RankScope scope(comm->rank());
    return body(comm);
  });
}

// Pins a communicator while a call uses it, so Abort/Destroy from another thread waits for it.
class ActiveCall {
 public:
  explicit ActiveCall(Comm* c) : comm_(c) { comm_->active().fetch_add(1); }
  ~ActiveCall() { comm_->active().fetch_sub(1); }
  ActiveCall(const ActiveCall&) = delete;
  ActiveCall& operator=(const ActiveCall&) = delete;

 private:
  Comm* comm_;
};

}  // namespace strata::api
