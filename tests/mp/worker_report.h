// What a worker rank (a process of a multi-process test, using the public API only) reports to
// its harness: "FAIL rank R: ..." on stdout and exit 1 for a failed check, after aborting the
// communicator so that peers blocked on this rank see a remote error instead of waiting for
// their timeout.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "strata/strata.h"

namespace strata::worker {

// This rank's communicator, rank and size, once the worker has initialised them.
inline strataComm_t g_comm = nullptr;
inline int g_rank = -1;
inline int g_nranks = 0;

// The enumerator's name ("strataRemoteError"), which the harnesses look for in the output.
inline const char* resultName(strataResult_t r) {
  switch (r) {
    case strataSuccess:
      return "strataSuccess";
    case strataSystemError:
      return "strataSystemError";
    case strataInternalError:
      return "strataInternalError";
    case strataInvalidArgument:
      return "strataInvalidArgument";
    case strataInvalidUsage:
      return "strataInvalidUsage";
    case strataRemoteError:
      return "strataRemoteError";
    case strataInProgress:
      return "strataInProgress";
    case strataTimeout:
      return "strataTimeout";
    default:
      return "unknown result";
  }
}

[[noreturn]] inline __attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
  std::printf("FAIL rank %d: ", g_rank);
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::printf("\n");
  std::fflush(stdout);
  if (g_comm != nullptr) strataCommAbort(g_comm);
  std::exit(1);
}

// Fails with the call's result and the communicator's last error unless `r` is success.
inline void ok(strataResult_t r, const std::string& what) {
  if (r != strataSuccess)
    fail("%s returned %s: %s", what.c_str(), resultName(r), strataGetLastError(g_comm));
}

// Initialises g_comm from the environment and reads g_rank and g_nranks from it.
inline void initComm() {
  ok(strataCommInitFromEnv(&g_comm, nullptr), "CommInitFromEnv");
  ok(strataCommUserRank(g_comm, &g_rank), "CommUserRank");
  ok(strataCommCount(g_comm, &g_nranks), "CommCount");
}

// Finalises and destroys g_comm.
inline void finishComm() {
  ok(strataCommFinalize(g_comm), "CommFinalize");
  ok(strataCommDestroy(g_comm), "CommDestroy");
  g_comm = nullptr;
}

// Repeats `call` (which returns a strataResult_t) until it fails, at most maxCalls times: how a
// worker waits for a peer's death to surface. Prints "rank R: <what> N returned <result>: <last
// error>", aborts the communicator and returns 10 + the result's code, for the worker to exit
// with; prints "rank R: no <what> failed" and returns 1 if none did.
template <typename Call>
int repeatUntilFailure(const char* what, long maxCalls, Call&& call) {
  for (long iter = 1; iter <= maxCalls; ++iter) {
    const strataResult_t r = call();
    if (r != strataSuccess) {
      std::printf("rank %d: %s %ld returned %s: %s\n", g_rank, what, iter, resultName(r),
                  strataGetLastError(g_comm));
      std::fflush(stdout);
      strataCommAbort(g_comm);
      return 10 + static_cast<int>(r);
    }
  }
  std::printf("rank %d: no %s failed\n", g_rank, what);
  return 1;
}

}  // namespace strata::worker
