// strataAllReduceFused: argument checks, then launch like any collective (the epilogue is bound
// to the plan's callback when the call runs).
#include "api/arg_checks.h"
#include "base/dtype.h"
#include "base/quant_format.h"

using strata::makeError;
using strata::Status;
namespace api = strata::api;

namespace {

constexpr const char* kName = "strataAllReduceFused";

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
  strata::CollArgs a =
      api::collArgs(strata::CollType::kAllReduceFused, sendbuff, recvbuff, count, datatype);
  a.op = op;
  a.inPlace = sendbuff == recvbuff;
  return api::submitTyped(kName, comm, stream, a, [&](strata::Comm& c) -> Status {
    STRATA_CHECK(api::checkOp(kName, op));
    STRATA_CHECK(checkEpilogue(epi, count, datatype, c.rank()));
    size_t bytes = 0;
    STRATA_CHECK(api::checkSendRecv(kName, count, 1, datatype, sendbuff, recvbuff, &bytes));
    STRATA_CHECK(api::checkApart(kName, sendbuff, bytes, recvbuff, bytes, a.inPlace,
                                 " (in place means sendbuff == recvbuff)"));
    a.fused.epilogue = epi->fn;
    a.fused.user = epi->user;
    a.fused.rowElems = epi->rowElems;
    a.fused.quantized = epi->quantizeGather != 0;
    a.fused.quant = a.fused.quantized ? epi->quant : strataQuantInt8;
    return Status::ok();
  });
}

}  // extern "C"
