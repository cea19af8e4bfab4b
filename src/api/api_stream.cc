// Streams and groups.
#include "api/handles.h"
#include "runtime/launch.h"

using strata::makeError;
using strata::api::finish;
using strata::api::guard;

extern "C" {

strataResult_t strataStreamCreate(strataStream_t* stream) {
  return guard("strataStreamCreate", [&] {
    if (!stream) return finish(makeError(strataInvalidArgument, "strataStreamCreate: stream is NULL"));
    auto handle = std::make_unique<strataStream>();
    handle->stream = std::make_unique<strata::Stream>();
    *stream = strata::api::publishHandle(std::move(handle), strata::api::HandleKind::kStream);
    return strataSuccess;
  });
}

strataResult_t strataStreamDestroy(strataStream_t stream) {
  return guard("strataStreamDestroy", [&] {
    if (!stream) return finish(makeError(strataInvalidArgument, "strataStreamDestroy: stream is NULL"));
    auto s = strata::api::checkStream(stream, "strataStreamDestroy");
    if (!s.isOk()) return finish(s.status());
    strata::api::retireHandle(stream, strata::api::HandleKind::kStream);  // runs what is queued first
    return strataSuccess;
  });
}

strataResult_t strataStreamSynchronize(strataStream_t stream) {
  return guard("strataStreamSynchronize", [&] {
    if (!stream)
      return finish(makeError(strataInvalidArgument, "strataStreamSynchronize: stream is NULL"));
    auto s = strata::api::checkStream(stream, "strataStreamSynchronize");
    if (!s.isOk()) return finish(s.status());
    return finish(s.value()->synchronize());
  });
}

strataResult_t strataStreamQuery(strataStream_t stream) {
  return guard("strataStreamQuery", [&] {
    if (!stream) return finish(makeError(strataInvalidArgument, "strataStreamQuery: stream is NULL"));
    auto s = strata::api::checkStream(stream, "strataStreamQuery");
    if (!s.isOk()) return finish(s.status());
    return s.value()->idle() ? strataSuccess : strataInProgress;
  });
}

strataResult_t strataGroupStart(void) {
  return guard("strataGroupStart", [] { return finish(strata::groupStart()); });
}

strataResult_t strataGroupEnd(void) {
  return guard("strataGroupEnd", [] { return finish(strata::groupEnd()); });
}

}  // extern "C"
