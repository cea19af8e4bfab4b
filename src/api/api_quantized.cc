// The quantised AllGather: strataAllGatherQuantized, strataAllGatherQuantizedRaw and
// strataAllGatherQuantizedRawPrequantized. Argument checks, then launch like any collective.
#include <cstdint>

#include "api/arg_checks.h"
#include "base/dtype.h"
#include "base/limits.h"
#include "base/quant_format.h"

using strata::CollArgs;
using strata::CollType;
using strata::Comm;
using strata::makeError;
using strata::QuantMode;
using strata::Status;
using strata::api::checkBuf;
using strata::api::checkGatherBufs;
using strata::api::collArgs;
using strata::api::isPartOf;
using strata::api::overlaps;
using strata::api::submit;

namespace {

bool isSourceType(strataDataType_t t) {
  return t == strataFloat32 || t == strataFloat16 || t == strataBfloat16;
}

Status checkFormat(const char* op, strataQuant_t quant, size_t blockElems) {
  if (!strata::validQuant(quant))
    return makeError(strataInvalidArgument,
                     "%s: quant %d is not strataQuantInt8, strataQuantInt4 or strataQuantFp8e4m3",
                     op, static_cast<int>(quant));
  if (blockElems == 0)
    return makeError(strataInvalidArgument,
                     "%s: blockElems is 0: each block of blockElems elements gets one scale "
                     "(the hidden size gives one scale per token)",
                     op);
  return Status::ok();
}

Status checkSource(const char* op, strataDataType_t t) {
  if (isSourceType(t)) return Status::ok();
  return makeError(strataInvalidArgument,
                   "%s: srcType %d (%s) cannot be quantised: it must be strataFloat32, "
                   "strataFloat16 or strataBfloat16",
                   op, static_cast<int>(t),
                   strata::validType(t) ? strata::dtypeName(t) : "not a strataDataType_t");
}

// count x perElem x nranks bytes must be a buffer of at most kMaxBufferBytes.
Status checkGatheredCount(const char* op, size_t count, size_t perElem, int nranks) {
  uint64_t bytes = 0;
  if (!strata::boundedProduct(count, static_cast<uint64_t>(perElem) * static_cast<uint64_t>(nranks),
                              strata::kMaxBufferBytes, &bytes))
    return makeError(strataInvalidArgument,
                     "%s: sendcount %zu is too large for %d ranks: the gathered buffer would span "
                     "more than the %llu bytes one buffer may span",
                     op, count, nranks, static_cast<unsigned long long>(strata::kMaxBufferBytes));
  return Status::ok();
}

// What the gathers that quantise a source type check first: the type, the format, the gathered
// size.
Status checkQuantizing(const char* op, strataDataType_t srcType, strataQuant_t quant,
                       size_t blockElems, size_t sendcount, int nranks) {
  STRATA_CHECK(checkSource(op, srcType));
  STRATA_CHECK(checkFormat(op, quant, blockElems));
  return checkGatheredCount(op, sendcount, strata::dtypeSize(srcType), nranks);
}

CollArgs quantizedArgs(const void* sendbuff, void* recvbuff, size_t sendcount,
                       strataDataType_t type, strataQuant_t quant, size_t blockElems,
                       QuantMode mode) {
  CollArgs a = collArgs(CollType::kAllGatherQuantized, sendbuff, recvbuff, sendcount, type);
  a.quant.format = quant;
  a.quant.blockElems = blockElems;
  a.quant.mode = mode;
  return a;
}

}  // namespace

extern "C" {

size_t strataQuantValueBytes(strataQuant_t quant, size_t sendcount) {
  if (!strata::validQuant(quant)) return 0;
  return strata::quantValueBytes(strata::quantStorageType(quant), sendcount);
}

strataResult_t strataAllGatherQuantized(const void* sendbuff, void* recvbuff, size_t sendcount,
                                        strataDataType_t srcType, strataQuant_t quant,
                                        size_t blockElems, strataComm_t comm,
                                        strataStream_t stream) {
  const char* name = "strataAllGatherQuantized";
  CollArgs a = quantizedArgs(sendbuff, recvbuff, sendcount, srcType, quant, blockElems,
                             QuantMode::kDequantize);
  return submit(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkQuantizing(name, srcType, quant, blockElems, sendcount, c.nranks()));
    const size_t bytes = sendcount * strata::dtypeSize(srcType);
    STRATA_CHECK(
        checkGatherBufs(name, c.rank(), c.nranks(), sendbuff, recvbuff, bytes, &a.inPlace));
    if (!a.inPlace && overlaps(sendbuff, bytes, recvbuff, bytes * static_cast<size_t>(c.nranks())))
      return makeError(strataInvalidArgument,
                       "%s: sendbuff overlaps recvbuff without being this rank's block of it "
                       "(recvbuff + rank x sendcount elements)",
                       name);
    return Status::ok();
  });
}

strataResult_t strataAllGatherQuantizedRaw(const void* sendbuff, void* recvValues,
                                           float* recvScales, size_t sendcount,
                                           strataDataType_t srcType, strataQuant_t quant,
                                           size_t blockElems, strataComm_t comm,
                                           strataStream_t stream) {
  const char* name = "strataAllGatherQuantizedRaw";
  CollArgs a =
      quantizedArgs(sendbuff, recvValues, sendcount, srcType, quant, blockElems, QuantMode::kRaw);
  a.quant.recvScales = recvScales;
  return submit(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkQuantizing(name, srcType, quant, blockElems, sendcount, c.nranks()));
    const size_t n = static_cast<size_t>(c.nranks());
    const size_t bytes = sendcount * strata::dtypeSize(srcType);
    const size_t values = strata::quantValueBytes(strata::quantStorageType(quant), sendcount) * n;
    const size_t scales = strata::quantBlockCount(sendcount, blockElems) * sizeof(float) * n;
    STRATA_CHECK(checkBuf(name, "sendbuff", sendbuff, bytes));
    STRATA_CHECK(checkBuf(name, "recvValues", recvValues, values));
    if (recvScales == nullptr && scales > 0)
      return makeError(strataInvalidArgument,
                       "%s: recvScales is NULL: the raw gather returns %zu block scales (%zu "
                       "bytes) beside the values",
                       name, scales / sizeof(float), scales);
    if (overlaps(sendbuff, bytes, recvValues, values) ||
        overlaps(sendbuff, bytes, recvScales, scales))
      return makeError(strataInvalidArgument,
                       "%s: sendbuff overlaps recvValues or recvScales (the raw gather has no "
                       "in-place form: its input and outputs have different types)",
                       name);
    if (overlaps(recvValues, values, recvScales, scales))
      return makeError(strataInvalidArgument, "%s: recvValues and recvScales overlap", name);
    return Status::ok();
  });
}

strataResult_t strataAllGatherQuantizedRawPrequantized(const void* sendValues,
                                                       const float* sendScales, void* recvValues,
                                                       float* recvScales, size_t sendcount,
                                                       strataQuant_t quant, size_t blockElems,
                                                       strataComm_t comm, strataStream_t stream) {
  const char* name = "strataAllGatherQuantizedRawPrequantized";
  const strataDataType_t stored =
      strata::validQuant(quant) ? strata::quantStorageType(quant) : strataInt8;
  CollArgs a = quantizedArgs(sendValues, recvValues, sendcount, stored, quant, blockElems,
                             QuantMode::kRawPrequantized);
  a.quant.sendScales = sendScales;
  a.quant.recvScales = recvScales;
  return submit(name, comm, stream, a, [&](Comm& c) {
    STRATA_CHECK(checkFormat(name, quant, blockElems));
    STRATA_CHECK(checkGatheredCount(name, sendcount, 1, c.nranks()));
    const size_t n = static_cast<size_t>(c.nranks());
    const size_t r = static_cast<size_t>(c.rank());
    const size_t vb = strata::quantValueBytes(stored, sendcount);
    const size_t sb = strata::quantBlockCount(sendcount, blockElems) * sizeof(float);
    STRATA_CHECK(checkBuf(name, "sendValues", sendValues, vb));
    STRATA_CHECK(checkBuf(name, "recvValues", recvValues, vb * n));
    if (sendScales == nullptr && sb > 0)
      return makeError(strataInvalidArgument,
                       "%s: sendScales is NULL: the input has %zu block scales", name,
                       sb / sizeof(float));
    if (recvScales == nullptr && sb > 0)
      return makeError(strataInvalidArgument,
                       "%s: recvScales is NULL: the gather returns %zu block scales", name,
                       sb / sizeof(float) * n);
    const bool valuesInPlace = isPartOf(sendValues, vb, recvValues, r * vb);
    const bool scalesInPlace = isPartOf(sendScales, sb, recvScales, r * sb);
    if (valuesInPlace != scalesInPlace)
      return makeError(strataInvalidArgument,
                       "%s: %s is this rank's part of %s but %s is not: in place, both inputs "
                       "are this rank's parts of the outputs",
                       name, valuesInPlace ? "sendValues" : "sendScales",
                       valuesInPlace ? "recvValues" : "recvScales",
                       valuesInPlace ? "sendScales" : "sendValues");
    a.inPlace = valuesInPlace;
    if (!a.inPlace && (overlaps(sendValues, vb, recvValues, vb * n) ||
                       overlaps(sendScales, sb, recvScales, sb * n)))
      return makeError(strataInvalidArgument,
                       "%s: an input overlaps its output without being this rank's part of it",
                       name);
    if (overlaps(recvValues, vb * n, recvScales, sb * n))
      return makeError(strataInvalidArgument, "%s: recvValues and recvScales overlap", name);
    return Status::ok();
  });
}

}  // extern "C"
