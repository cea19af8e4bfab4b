// strataAllReduceFused: argument checks, then launch like any collective (the epilogue is bound
// to the plan's callback when the call runs).
#include <limits>

#include "api/handles.h"
#include "base/dtype.h"
#include "base/quant_format.h"
#include "runtime/launch.h"

using strata::CollArgs;
using strata::CollType;
using strata::Comm;
using strata::makeError;
using strata::Status;
using strata::api::finish;
using strata::api::guard;

namespace {

constexpr const char* kName = "strataAllReduceFused";

bool overlapsUnequal(const void* a, const void* b, size_t bytes) {
  auto x = reinterpret_cast<uintptr_t>(a);
  auto y = reinterpret_cast<uintptr_t>(b);
  return bytes > 0 && x != y && x < y + bytes && y < x + bytes;
}

Status checkEpilogue(const strataEpilogue_t* epi, size_t count, strataDataType_t t, int rank) {
  if (epi == nullptr)
    return makeError(strataInvalidArgument,
                     "%s: epi is NULL on rank %d: the call needs an epilogue (use "
                     "strataAllReduce for none)",
                     kName, rank);
  if (epi->fn == nullptr)
    return makeError(strataInvalidArgument,
                     "%s: epi->fn is NULL on rank %d: the epilogue needs a function to call on "
                     "the owned shard",
                     kName, rank);
  if (epi->rowElems > 0 && count % epi->rowElems != 0)
    return makeError(strataInvalidArgument,
                     "%s: epi->rowElems %zu does not divide count %zu on rank %d: shards fall "
                     "on whole rows of rowElems elements",
                     kName, epi->rowElems, count, rank);
  if (epi->quantizeGather != 0 && epi->quantizeGather != 1)
    return makeError(strataInvalidArgument,
                     "%s: epi->quantizeGather is %d on rank %d; it must be 0 or 1", kName,
                     epi->quantizeGather, rank);
  if (epi->quantizeGather == 0) return Status::ok();
  if (!strata::validQuant(epi->quant))
    return makeError(strataInvalidArgument,
                     "%s: epi->quant %d on rank %d is not strataQuantInt8, strataQuantInt4 or "
                     "strataQuantFp8e4m3",
                     kName, static_cast<int>(epi->quant), rank);
  if (epi->rowElems == 0)
    return makeError(strataInvalidArgument,
                     "%s: epi->quantizeGather needs epi->rowElems (rank %d): the quantised "
                     "gather keeps one scale per row",
                     kName, rank);
  if (t != strataFloat32 && t != strataFloat16 && t != strataBfloat16)
    return makeError(strataInvalidArgument,
                     "%s: datatype %s cannot be quantised for the gather (rank %d): it must be "
                     "strataFloat32, strataFloat16 or strataBfloat16",
                     kName, strata::dtypeName(t), rank);
  return Status::ok();
}

}  // namespace

extern "C" {

strataResult_t strataAllReduceFused(const void* sendbuff, void* recvbuff, size_t count,
                                    strataDataType_t datatype, strataRedOp_t op,
                                    const strataEpilogue_t* epi, strataComm_t comm,
                                    strataStream_t stream) {
  return guard(kName, [&]() -> strataResult_t {
    auto c = strata::api::checkComm(comm, kName);
    if (!c.isOk()) return finish(c.status());
    Comm* cm = c.value();
    strata::RankScope scope(cm->rank());
    auto s = strata::api::checkStream(stream, kName);
    if (!s.isOk()) return finish(s.status(), cm);
    const int rank = cm->rank();
    auto check = [&]() -> Status {
      if (!strata::validType(datatype))
        return makeError(strataInvalidArgument,
                         "%s: datatype %d on rank %d is not a strataDataType_t", kName,
                         static_cast<int>(datatype), rank);
      if (static_cast<int>(op) < 0 || static_cast<int>(op) >= strataNumOps)
        return makeError(strataInvalidArgument, "%s: op %d on rank %d is not a strataRedOp_t",
                         kName, static_cast<int>(op), rank);
      STRATA_CHECK(checkEpilogue(epi, count, datatype, rank));
      const size_t es = strata::dtypeSize(datatype);
      if (count > std::numeric_limits<size_t>::max() / es)
        return makeError(strataInvalidArgument, "%s: count %zu on rank %d is too large", kName,
                         count, rank);
      const size_t bytes = count * es;
      if (sendbuff == nullptr && bytes > 0)
        return makeError(strataInvalidArgument,
                         "%s: sendbuff is NULL on rank %d with %zu bytes to reduce", kName, rank,
                         bytes);
      if (recvbuff == nullptr && bytes > 0)
        return makeError(strataInvalidArgument,
                         "%s: recvbuff is NULL on rank %d with %zu bytes to receive", kName, rank,
                         bytes);
      if (overlapsUnequal(sendbuff, recvbuff, bytes))
        return makeError(strataInvalidArgument,
                         "%s: sendbuff and recvbuff overlap without being equal on rank %d (in "
                         "place means sendbuff == recvbuff)",
                         kName, rank);
      return Status::ok();
    };
    Status st = check();
    if (!st.isOk()) return finish(st, cm);
    CollArgs a;
    a.coll = CollType::kAllReduceFused;
    a.sendbuff = sendbuff;
    a.recvbuff = recvbuff;
    a.count = count;
    a.dtype = datatype;
    a.op = op;
    a.inPlace = sendbuff == recvbuff;
    a.fused.epilogue = epi->fn;
    a.fused.user = epi->user;
    a.fused.rowElems = epi->rowElems;
    a.fused.quantized = epi->quantizeGather != 0;
    a.fused.quant = a.fused.quantized ? epi->quant : strataQuantInt8;
    strata::api::ActiveCall active(cm);
    return finish(strata::launch(*cm, a, s.value()), cm);
  });
}

}  // extern "C"
