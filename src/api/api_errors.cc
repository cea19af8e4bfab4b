// Error strings, the last-error record, and the version.
#include <string>

#include "api/handles.h"

namespace strata::api {
namespace {
thread_local std::string tlsLastError;
}

strataResult_t finish(const Status& s, Comm* comm) {
  if (s.isOk()) return strataSuccess;
  tlsLastError = s.message();
  if (comm) comm->recordError(s);
  if (s.code() != strataInProgress) {
    STRATA_INFO(Subsys::kAll, "%s: %s", strataGetErrorString(s.code()), s.message().c_str());
  }
  return s.code();
}

Result<Comm*> checkComm(strataComm_t comm, const char* op, const char* what) {
  if (comm == nullptr) return makeError(strataInvalidArgument, "%s: %s is NULL", op, what);
  // The registry first: a destroyed handle's memory may already be freed.
  if (!isLiveHandle(comm, HandleKind::kComm) || comm->magic != strataComm::kMagic || !comm->comm) {
    return makeError(strataInvalidArgument,
                     "%s: %s is not a valid communicator (never initialised or already destroyed)",
                     op, what);
  }
  return comm->comm.get();
}

Result<Stream*> checkStream(strataStream_t stream, const char* op) {
  if (stream == nullptr) return static_cast<Stream*>(nullptr);
  if (!isLiveHandle(stream, HandleKind::kStream) || stream->magic != strataStream::kMagic ||
      !stream->stream) {
    return makeError(strataInvalidArgument,
                     "%s: stream is not a valid stream (never created or already destroyed)", op);
  }
  return stream->stream.get();
}

}  // namespace strata::api

extern "C" {

const char* strataGetErrorString(strataResult_t result) {
  switch (result) {
    case strataSuccess: return "no error";
    case strataSystemError: return "system error (a system call or allocation failed)";
    case strataInternalError: return "internal error (a bug in Strata)";
    case strataInvalidArgument: return "invalid argument";
    case strataInvalidUsage: return "invalid usage";
    case strataRemoteError: return "remote error (a peer failed, exited or aborted)";
    case strataInProgress: return "operation in progress";
    case strataTimeout: return "timeout";
    default: return "unknown result code";
  }
}

const char* strataGetLastError(strataComm_t comm) {
  if (strata::api::isLiveHandle(comm, strata::api::HandleKind::kComm) &&
      comm->magic == strataComm::kMagic && comm->comm) {
    thread_local std::string copy;
    copy = comm->comm->lastError();
    return copy.c_str();
  }
  return strata::api::tlsLastError.c_str();
}

strataResult_t strataGetVersion(int* version) {
  if (!version) {
    return strata::api::finish(
        strata::makeError(strataInvalidArgument, "strataGetVersion: version is NULL"));
  }
  *version = STRATA_VERSION_CODE;
  return strataSuccess;
}

}  // extern "C"
