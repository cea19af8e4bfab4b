// Communicator life cycle: unique ids, init (blocking, nonblocking, all-in-process, from the
// launch environment), split, finalize, destroy, abort and queries.
#include <algorithm>
#include <thread>
#include <vector>

#include "api/handles.h"
#include "api/redop.h"
#include "base/limits.h"
#include "bootstrap/inprocess_bootstrap.h"
#include "bootstrap/launch_env.h"
#include "bootstrap/tcp_bootstrap.h"

using strata::Comm;
using strata::format;
using strata::makeError;
using strata::Status;
using strata::api::finish;
using strata::api::guard;

namespace {

// Before anything is sized by it: 1 <= nranks <= kMaxRanks.
Status checkRankCount(const char* op, int nranks) {
  if (nranks < 1)
    return makeError(strataInvalidArgument, "%s: nranks is %d, must be >= 1", op, nranks);
  if (nranks > strata::kMaxRanks)
    return makeError(strataInvalidArgument,
                     "%s: nranks is %d, more than the %d ranks a communicator may have", op,
                     nranks, strata::kMaxRanks);
  return Status::ok();
}

Status checkRankArgs(const char* op, strataComm_t* comm, int nranks, int rank) {
  if (!comm) return makeError(strataInvalidArgument, "%s: comm is NULL", op);
  STRATA_CHECK(checkRankCount(op, nranks));
  if (rank < 0 || rank >= nranks)
    return makeError(strataInvalidArgument, "%s: rank %d is outside [0, %d)", op, rank, nranks);
  return Status::ok();
}

strataResult_t initRank(const char* op, strataComm_t* out, int nranks, strataUniqueId id,
                        int rank, const strataConfig_t* config) {
  Status s = checkRankArgs(op, out, nranks, rank);
  if (!s.isOk()) return finish(s);
  *out = nullptr;
  auto cfg = strata::resolveConfig(config, nullptr);
  if (!cfg.isOk()) return finish(cfg.status().context(op));
  auto handle = std::make_unique<strataComm>();
  handle->comm = std::make_unique<Comm>(rank, nranks, cfg.value());
  Comm* comm = handle->comm.get();
  strata::RankScope scope(rank);
  strata::BootstrapOptions opts;
  opts.timeoutMs = cfg.value().timeoutMs;
  opts.abort = &comm->abortFlag();
  Comm::BootstrapConnector connect = [id, rank, nranks, opts] {
    return strata::connectTcpBootstrap(id, rank, nranks, opts);
  };
  if (!cfg.value().blocking) {
    comm->initializeAsync(std::move(connect));
    *out = strata::api::publishHandle(std::move(handle), strata::api::HandleKind::kComm);
    return strataInProgress;
  }
  s = comm->initializeWith(connect);
  if (!s.isOk()) return finish(s.context(format("%s (rank %d of %d)", op, rank, nranks)));
  *out = strata::api::publishHandle(std::move(handle), strata::api::HandleKind::kComm);
  return strataSuccess;
}

}  // namespace

extern "C" {

strataResult_t strataGetUniqueId(strataUniqueId* uniqueId) {
  return guard("strataGetUniqueId", [&] {
    if (!uniqueId)
      return finish(makeError(strataInvalidArgument, "strataGetUniqueId: uniqueId is NULL"));
    auto id = strata::createUniqueId();
    if (!id.isOk()) return finish(id.status().context("strataGetUniqueId"));
    *uniqueId = id.value();
    return strataSuccess;
  });
}

strataResult_t strataCommInitRank(strataComm_t* comm, int nranks, strataUniqueId commId,
                                  int rank) {
  return guard("strataCommInitRank", [&] {
    return initRank("strataCommInitRank", comm, nranks, commId, rank, nullptr);
  });
}

strataResult_t strataCommInitRankConfig(strataComm_t* comm, int nranks, strataUniqueId commId,
                                        int rank, strataConfig_t* config) {
  return guard("strataCommInitRankConfig", [&] {
    return initRank("strataCommInitRankConfig", comm, nranks, commId, rank, config);
  });
}

strataResult_t strataCommInitFromEnv(strataComm_t* comm, const strataConfig_t* config) {
  return guard("strataCommInitFromEnv", [&] {
    const char* op = "strataCommInitFromEnv";
    if (!comm) return finish(makeError(strataInvalidArgument, "%s: comm is NULL", op));
    *comm = nullptr;
    auto env = strata::detectLaunchEnv();
    if (!env.isOk()) return finish(env.status().context(op));
    auto cfg = strata::resolveConfig(config, nullptr);
    if (!cfg.isOk()) return finish(cfg.status().context(op));
    auto id = strata::launchUniqueId(env.value(), cfg.value().timeoutMs);
    if (!id.isOk()) return finish(id.status().context(op));
    return initRank(op, comm, env.value().nranks, id.value(), env.value().rank, config);
  });
}

strataResult_t strataCommInitAll(strataComm_t* comms, int nranks, const strataConfig_t* config) {
  return guard("strataCommInitAll", [&] {
    const char* op = "strataCommInitAll";
    if (!comms) return finish(makeError(strataInvalidArgument, "%s: comms is NULL", op));
    Status count = checkRankCount(op, nranks);
    if (!count.isOk()) return finish(count);
    for (int i = 0; i < nranks; ++i) comms[i] = nullptr;
    auto cfg = strata::resolveConfig(config, nullptr);
    if (!cfg.isOk()) return finish(cfg.status().context(op));
    std::vector<std::unique_ptr<strataComm>> handles(static_cast<size_t>(nranks));
    strata::BootstrapOptions opts;
    opts.timeoutMs = cfg.value().timeoutMs;
    auto bootstraps = strata::createInProcessBootstraps(nranks, opts);
    std::vector<Status> results(static_cast<size_t>(nranks));
    std::vector<std::thread> threads;
    for (int r = 0; r < nranks; ++r) {
      const size_t i = static_cast<size_t>(r);
      handles[i] = std::make_unique<strataComm>();
      handles[i]->comm = std::make_unique<Comm>(r, nranks, cfg.value());
      bootstraps[i]->setAbortFlag(&handles[i]->comm->abortFlag());
      threads.emplace_back([&, i] {
        results[i] = handles[i]->comm->initialize(std::move(bootstraps[i]));
      });
    }
    for (auto& t : threads) t.join();
    for (int r = 0; r < nranks; ++r) {
      const Status& s = results[static_cast<size_t>(r)];
      if (!s.isOk()) {
        Status err = s;
        return finish(err.context(format("%s: rank %d", op, r)));
      }
    }
    for (int r = 0; r < nranks; ++r)
      comms[r] = strata::api::publishHandle(std::move(handles[static_cast<size_t>(r)]),
                                            strata::api::HandleKind::kComm);
    return strataSuccess;
  });
}

strataResult_t strataCommSplit(strataComm_t comm, int color, int key, strataComm_t* newcomm,
                               strataConfig_t* config) {
  return guard("strataCommSplit", [&] {
    const char* op = "strataCommSplit";
    auto c = strata::api::checkComm(comm, op);
    if (!c.isOk()) return finish(c.status());
    if (!newcomm) return finish(makeError(strataInvalidArgument, "%s: newcomm is NULL", op), c.value());
    *newcomm = nullptr;
    if (color < 0 && color != STRATA_SPLIT_NOCOLOR)
      return finish(makeError(strataInvalidArgument,
                              "%s: color %d is negative (use STRATA_SPLIT_NOCOLOR to opt out)", op,
                              color),
                    c.value());
    strata::api::ActiveCall active(c.value());
    strata::RankScope scope(c.value()->rank());
    auto child = c.value()->split(color, key, config);
    if (!child.isOk()) return finish(child.status().context(op), c.value());
    if (child.value()) {
      auto handle = std::make_unique<strataComm>();
      handle->comm = std::move(child).value();
      *newcomm = strata::api::publishHandle(std::move(handle), strata::api::HandleKind::kComm);
    }
    return strataSuccess;
  });
}

strataResult_t strataCommShrink(strataComm_t comm, const int* excludeRanks, int excludeRanksCount,
                                strataComm_t* newcomm, strataConfig_t* config, int shrinkFlags) {
  return guard("strataCommShrink", [&] {
    const char* op = "strataCommShrink";
    auto c = strata::api::checkComm(comm, op);
    if (!c.isOk()) return finish(c.status());
    strata::Comm* parent = c.value();
    auto bad = [&](const Status& s) { return finish(s, parent); };
    if (!newcomm) return bad(makeError(strataInvalidArgument, "%s: newcomm is NULL", op));
    *newcomm = nullptr;
    if (shrinkFlags != STRATA_SHRINK_DEFAULT && shrinkFlags != STRATA_SHRINK_ABORT)
      return bad(makeError(strataInvalidArgument,
                           "%s: shrinkFlags %d is neither STRATA_SHRINK_DEFAULT (0) nor "
                           "STRATA_SHRINK_ABORT (1)",
                           op, shrinkFlags));
    const int n = parent->nranks();
    if (excludeRanksCount < 0 || excludeRanksCount >= n)
      return bad(makeError(strataInvalidArgument,
                           "%s: excludeRanksCount %d must be 0..%d (excluding all %d ranks leaves "
                           "no communicator)",
                           op, excludeRanksCount, n - 1, n));
    if (excludeRanksCount > 0 && !excludeRanks)
      return bad(makeError(strataInvalidArgument, "%s: excludeRanks is NULL with count %d", op,
                           excludeRanksCount));
    std::vector<int> excluded;
    for (int i = 0; i < excludeRanksCount; ++i) {
      const int r = excludeRanks[i];
      if (r < 0 || r >= n)
        return bad(makeError(strataInvalidArgument,
                             "%s: excludeRanks[%d] = %d is outside 0..%d", op, i, r, n - 1));
      if (std::find(excluded.begin(), excluded.end(), r) != excluded.end())
        return bad(makeError(strataInvalidArgument, "%s: excludeRanks[%d] = %d is listed twice",
                             op, i, r));
      if (r == parent->rank())
        return bad(makeError(strataInvalidArgument,
                             "%s: excludeRanks[%d] = %d is the calling rank (excluded ranks do "
                             "not call)",
                             op, i, r));
      excluded.push_back(r);
    }
    strata::RankScope scope(parent->rank());
    // Not an active call: with STRATA_SHRINK_ABORT the parent waits for its calls to end.
    auto child = parent->shrink(excluded, config, shrinkFlags == STRATA_SHRINK_ABORT);
    if (!child.isOk()) return finish(child.status().context(op), parent);
    auto handle = std::make_unique<strataComm>();
    handle->comm = std::move(child).value();
    *newcomm = strata::api::publishHandle(std::move(handle), strata::api::HandleKind::kComm);
    return strataSuccess;
  });
}

strataResult_t strataCommFinalize(strataComm_t comm) {
  return guard("strataCommFinalize", [&] {
    auto c = strata::api::checkComm(comm, "strataCommFinalize");
    if (!c.isOk()) return finish(c.status());
    strata::RankScope scope(c.value()->rank());
    Status s = c.value()->finalize();
    return finish(s.context("strataCommFinalize"), c.value());
  });
}

strataResult_t strataCommDestroy(strataComm_t comm) {
  return guard("strataCommDestroy", [&] {
    auto c = strata::api::checkComm(comm, "strataCommDestroy");
    if (!c.isOk()) return finish(c.status());
    c.value()->drain();
    strata::api::dropRedOps(c.value());
    strata::api::retireHandle(comm, strata::api::HandleKind::kComm);
    return strataSuccess;
  });
}

strataResult_t strataCommAbort(strataComm_t comm) {
  return guard("strataCommAbort", [&] {
    auto c = strata::api::checkComm(comm, "strataCommAbort");
    if (!c.isOk()) return finish(c.status());
    c.value()->abort();
    strata::api::dropRedOps(c.value());
    strata::api::retireHandle(comm, strata::api::HandleKind::kComm);
    return strataSuccess;
  });
}

strataResult_t strataCommGetAsyncError(strataComm_t comm, strataResult_t* asyncError) {
  return guard("strataCommGetAsyncError", [&] {
    auto c = strata::api::checkComm(comm, "strataCommGetAsyncError");
    if (!c.isOk()) return finish(c.status());
    if (!asyncError)
      return finish(makeError(strataInvalidArgument, "strataCommGetAsyncError: asyncError is NULL"));
    *asyncError = c.value()->asyncState();
    return strataSuccess;
  });
}

strataResult_t strataCommCount(const strataComm_t comm, int* count) {
  return guard("strataCommCount", [&] {
    auto c = strata::api::checkComm(comm, "strataCommCount");
    if (!c.isOk()) return finish(c.status());
    if (!count) return finish(makeError(strataInvalidArgument, "strataCommCount: count is NULL"));
    *count = c.value()->nranks();
    return strataSuccess;
  });
}

strataResult_t strataCommUserRank(const strataComm_t comm, int* rank) {
  return guard("strataCommUserRank", [&] {
    auto c = strata::api::checkComm(comm, "strataCommUserRank");
    if (!c.isOk()) return finish(c.status());
    if (!rank) return finish(makeError(strataInvalidArgument, "strataCommUserRank: rank is NULL"));
    *rank = c.value()->rank();
    return strataSuccess;
  });
}

}  // extern "C"
