// Shared memory and windows: strataMemAlloc/Free, strataCommWindowRegister/Deregister.
#include "api/handles.h"
#include "transports/shm/shared_allocation.h"

using strata::Comm;
using strata::makeError;
using strata::Status;
using strata::api::finish;
using strata::api::guard;
using strata::api::onComm;

extern "C" {

strataResult_t strataMemAlloc(void** ptr, size_t size) {
  return guard("strataMemAlloc", [&] {
    if (!ptr) return finish(makeError(strataInvalidArgument, "strataMemAlloc: ptr is NULL"));
    *ptr = nullptr;
    auto p = strata::sharedAlloc(size);
    if (!p.isOk()) return finish(p.status());
    *ptr = p.value();
    return strataSuccess;
  });
}

strataResult_t strataMemFree(void* ptr) {
  return guard("strataMemFree", [&] { return finish(strata::sharedFree(ptr)); });
}

strataResult_t strataCommWindowRegister(strataComm_t comm, void* buff, size_t size,
                                        strataWindow_t* win, int flags) {
  const char* op = "strataCommWindowRegister";
  return onComm(op, comm, [&](Comm* cm) -> strataResult_t {
    if (!win) return finish(makeError(strataInvalidArgument, "%s: win is NULL", op), cm);
    *win = nullptr;
    if (flags != 0)
      return finish(makeError(strataInvalidArgument, "%s: flags %d is not 0", op, flags), cm);
    Status ready = cm->ready();
    if (!ready.isOk()) return finish(ready, cm);
    strata::api::ActiveCall active(cm);
    strata::FdWait wait{strata::Deadline::afterMs(cm->config().timeoutMs), &cm->abortFlag()};
    auto w = cm->windows().add(cm->bootstrap(), cm->peers(), buff, size, wait);
    if (!w.isOk()) return finish(w.status(), cm);
    auto handle = std::make_unique<strataWindow>();
    handle->window = w.value();
    *win = strata::api::publishHandle(std::move(handle), strata::api::HandleKind::kWindow);
    return strataSuccess;
  });
}

strataResult_t strataCommWindowDeregister(strataComm_t comm, strataWindow_t win) {
  const char* op = "strataCommWindowDeregister";
  return onComm(op, comm, [&](Comm* cm) -> strataResult_t {
    if (!win) return finish(makeError(strataInvalidArgument, "%s: win is NULL", op), cm);
    if (!strata::api::isLiveHandle(win, strata::api::HandleKind::kWindow) ||
        win->magic != strataWindow::kMagic || !cm->windows().owns(win->window))
      return finish(makeError(strataInvalidArgument,
                              "%s: win is not a window registered on this communicator (or was "
                              "already deregistered)",
                              op),
                    cm);
    Status ready = cm->ready();
    if (!ready.isOk()) return finish(ready, cm);
    strata::api::ActiveCall active(cm);
    Status s = cm->windows().remove(cm->bootstrap(), win->window);
    if (!s.isOk()) return finish(s, cm);
    strata::api::retireHandle(win, strata::api::HandleKind::kWindow);
    return strataSuccess;
  });
}

}  // extern "C"
