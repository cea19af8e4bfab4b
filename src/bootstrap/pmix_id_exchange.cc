#include "bootstrap/pmix_id_exchange.h"

#include <pmix.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "base/logging.h"

namespace strata {
namespace {

// First byte of the published blob: what follows is the id, or rank 0's error message.
constexpr char kIdFollows = 'I';
constexpr char kErrorFollows = 'E';

// This process's PMIx client: initialised at the first exchange and finalised at process exit,
// not after each exchange, because Open MPI's MPI_Init fails in a process that has initialised
// and then finalised PMIx. PMIx counts initialisations, so an application's own MPI_Init, before
// or after, nests inside this one.
class PmixSession {
 public:
  static PmixSession& instance() {
    static PmixSession session;
    return session;
  }

  // PMIX_SUCCESS once initialised; a failure is retried on the next call.
  pmix_status_t open() {
    std::lock_guard<std::mutex> g(mu_);
    if (!open_) {
      status_ = PMIx_Init(&self_, nullptr, 0);
      open_ = status_ == PMIX_SUCCESS;
    }
    return status_;
  }
  const pmix_proc_t& self() const { return self_; }

 private:
  PmixSession() = default;
  ~PmixSession() {
    if (open_) PMIx_Finalize(nullptr, 0);
  }

  std::mutex mu_;
  bool open_ = false;
  pmix_proc_t self_{};
  pmix_status_t status_ = PMIX_ERROR;
};

Status pmixError(const char* call, pmix_status_t rc, const std::string& what) {
  return makeError(rc == PMIX_ERR_TIMEOUT ? strataTimeout : strataRemoteError,
                   "PMIx: %s failed (%s) %s", call, PMIx_Error_string(rc), what.c_str());
}

Status publish(const char* key, const std::string& blob) {
  pmix_byte_object_t bytes;
  bytes.bytes = const_cast<char*>(blob.data());
  bytes.size = blob.size();
  pmix_value_t value;
  pmix_status_t rc = PMIx_Value_load(&value, &bytes, PMIX_BYTE_OBJECT);
  if (rc != PMIX_SUCCESS) return pmixError("PMIx_Value_load", rc, "for the unique id");
  rc = PMIx_Put(PMIX_GLOBAL, key, &value);
  PMIx_Value_destruct(&value);
  if (rc != PMIX_SUCCESS) return pmixError("PMIx_Put", rc, format("of key %s", key));
  rc = PMIx_Commit();
  if (rc != PMIX_SUCCESS) return pmixError("PMIx_Commit", rc, format("of key %s", key));
  return Status::ok();
}

// Every process of the namespace, with the data put before it collected.
Status fence(long timeoutMs) {
  pmix_info_t info[2];
  bool collect = true;
  PMIx_Info_load(&info[0], PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
  size_t ninfo = 1;
  if (timeoutMs > 0) {
    int seconds = static_cast<int>((timeoutMs + 999) / 1000);
    PMIx_Info_load(&info[1], PMIX_TIMEOUT, &seconds, PMIX_INT);
    ninfo = 2;
  }
  pmix_status_t rc = PMIx_Fence(nullptr, 0, info, ninfo);
  for (size_t i = 0; i < ninfo; ++i) PMIX_INFO_DESTRUCT(&info[i]);
  if (rc != PMIX_SUCCESS)
    return pmixError("PMIx_Fence", rc, "while every rank of the job waited for rank 0's id");
  return Status::ok();
}

Result<std::string> fetchFromRankZero(const pmix_proc_t& self, const char* key) {
  pmix_proc_t rank0;
  PMIX_PROC_LOAD(&rank0, self.nspace, 0);
  pmix_value_t* value = nullptr;
  pmix_status_t rc = PMIx_Get(&rank0, key, nullptr, 0, &value);
  if (rc != PMIX_SUCCESS) return pmixError("PMIx_Get", rc, format("of rank 0's key %s", key));
  std::string blob;
  if (value->type == PMIX_BYTE_OBJECT && value->data.bo.bytes)
    blob.assign(value->data.bo.bytes, value->data.bo.size);
  PMIX_VALUE_RELEASE(value);
  return blob;
}

}  // namespace

bool pmixBuilt() { return true; }

bool pmixServerInEnvironment() {
  const char* ns = std::getenv("PMIX_NAMESPACE");
  const char* rank = std::getenv("PMIX_RANK");
  return ns && *ns && rank && *rank;
}

Result<strataUniqueId> shareUniqueIdOverPmix(int rank,
                                             const std::function<Result<strataUniqueId>()>& makeId,
                                             long timeoutMs) {
  // Keys differ per call: every rank makes the same calls in the same order.
  static std::atomic<unsigned> calls{0};
  const std::string key = "strata.unique_id." + std::to_string(calls.fetch_add(1));
  PmixSession& pmix = PmixSession::instance();
  if (pmix_status_t rc = pmix.open(); rc != PMIX_SUCCESS)
    return pmixError("PMIx_Init", rc,
                     "(PMIX_NAMESPACE is set, but this process cannot reach its PMIx server)");
  if (pmix.self().rank != static_cast<pmix_rank_t>(rank))
    return makeError(strataInvalidArgument,
                     "PMIx: the PMIx server says this process is rank %u but the launcher's "
                     "environment says rank %d",
                     pmix.self().rank, rank);
  if (rank == 0) {
    Result<strataUniqueId> id = makeId();
    std::string blob = id.isOk() ? std::string(1, kIdFollows) +
                                       std::string(id.value().internal, sizeof(id.value().internal))
                                 : std::string(1, kErrorFollows) + id.status().message();
    Status published = publish(key.c_str(), blob);
    // Joining the fence even after a failure lets the other ranks return instead of waiting.
    Status fenced = fence(timeoutMs);
    if (!id.isOk()) return id.status();
    STRATA_CHECK(published);
    STRATA_CHECK(fenced);
    STRATA_INFO(Subsys::kBootstrap,
                "bootstrap: unique id published through PMIx (namespace %s, key %s)",
                pmix.self().nspace, key.c_str());
    return id;
  }
  STRATA_CHECK(fence(timeoutMs));
  Result<std::string> fetched = fetchFromRankZero(pmix.self(), key.c_str());
  if (!fetched.isOk()) return fetched.status();
  const std::string& blob = fetched.value();
  if (!blob.empty() && blob[0] == kErrorFollows)
    return makeError(strataRemoteError, "rank 0 could not make the unique id: %s",
                     blob.c_str() + 1);
  strataUniqueId id;
  if (blob.size() != 1 + sizeof(id.internal) || blob[0] != kIdFollows)
    return makeError(strataRemoteError,
                     "PMIx: rank 0's key %s holds %zu bytes, not a Strata unique id", key.c_str(),
                     blob.size());
  std::memcpy(id.internal, blob.data() + 1, sizeof(id.internal));
  STRATA_INFO(Subsys::kBootstrap, "bootstrap: unique id of rank 0 read through PMIx (namespace %s)",
              pmix.self().nspace);
  return id;
}

}  // namespace strata
