// The argument checks every collective call shares.
#include "api/arg_checks.h"
#include "api/redop.h"

#include <algorithm>
#include <cstdint>

#include "base/dtype.h"
#include "base/limits.h"

namespace strata::api {

Status checkType(const char* op, strataDataType_t t) {
  if (static_cast<int>(t) < 0 || static_cast<int>(t) >= strataNumTypes)
    return makeError(strataInvalidArgument, "%s: datatype %d is not a strataDataType_t", op,
                     static_cast<int>(t));
  return Status::ok();
}

Status checkOp(const char* op, strataRedOp_t r) {
  if (!validOp(r) && isPreMulSumOp(r))
    return makeError(strataInvalidArgument,
                     "%s: op %d is a pre-multiplied sum, which only strataAllReduce, strataReduce "
                     "and strataReduceScatter take",
                     op, static_cast<int>(r));
  if (static_cast<int>(r) < 0 || static_cast<int>(r) >= strataNumOps)
    return makeError(strataInvalidArgument, "%s: op %d is not a strataRedOp_t", op,
                     static_cast<int>(r));
  return Status::ok();
}

Status checkRank(const char* op, const char* what, int r, int n) {
  if (r < 0 || r >= n)
    return makeError(strataInvalidArgument, "%s: %s %d is outside [0, %d)", op, what, r, n);
  return Status::ok();
}

Status checkCount(const char* op, const char* what, size_t count, size_t factor,
                  strataDataType_t t) {
  const uint64_t es = dtypeSize(t);
  uint64_t elems = 0, bytes = 0;
  if (boundedProduct(count, factor == 0 ? 1 : factor, UINT64_MAX, &elems) &&
      boundedProduct(elems, es, kMaxBufferBytes, &bytes))
    return Status::ok();
  if (factor > 1)
    return makeError(strataInvalidArgument,
                     "%s: %s %zu is too large: %zu x %zu ranks x %llu-byte elements is more than "
                     "the %llu bytes one buffer may span",
                     op, what, count, count, factor, static_cast<unsigned long long>(es),
                     static_cast<unsigned long long>(kMaxBufferBytes));
  return makeError(strataInvalidArgument,
                   "%s: %s %zu is too large: %zu x %llu-byte elements is more than the %llu bytes "
                   "one buffer may span",
                   op, what, count, count, static_cast<unsigned long long>(es),
                   static_cast<unsigned long long>(kMaxBufferBytes));
}

Status checkCountVector(const char* op, const char* countsName, const char* displsName,
                        const size_t* counts, const size_t* displs, size_t n, strataDataType_t t,
                        size_t* extent) {
  const uint64_t es = dtypeSize(t);
  const uint64_t maxElems = kMaxBufferBytes / es;
  uint64_t total = 0, end = 0;
  for (size_t r = 0; r < n; ++r) {
    if (counts[r] > maxElems || displs[r] > maxElems || counts[r] + displs[r] > maxElems)
      return makeError(strataInvalidArgument,
                       "%s: %s[%zu] %zu + %s[%zu] %zu is more than the %llu %llu-byte elements one "
                       "buffer may span",
                       op, countsName, r, counts[r], displsName, r, displs[r],
                       static_cast<unsigned long long>(maxElems),
                       static_cast<unsigned long long>(es));
    total += counts[r];  // each term <= maxElems < 2^40 and n <= kMaxRanks: cannot wrap
    if (total > maxElems)
      return makeError(strataInvalidArgument,
                       "%s: the sum of %s[0..%zu] is more than the %llu %llu-byte elements one "
                       "buffer may span",
                       op, countsName, r, static_cast<unsigned long long>(maxElems),
                       static_cast<unsigned long long>(es));
    end = std::max<uint64_t>(end, counts[r] + displs[r]);
  }
  *extent = static_cast<size_t>(end);
  return Status::ok();
}

Status checkBuf(const char* op, const char* what, const void* p, size_t bytes) {
  if (p == nullptr && bytes > 0)
    return makeError(strataInvalidArgument, "%s: %s is NULL with %zu bytes to move", op, what,
                     bytes);
  return Status::ok();
}

Status checkSendRecv(const char* op, size_t count, size_t factor, strataDataType_t t,
                     const void* sendbuff, const void* recvbuff, size_t* bytes) {
  STRATA_CHECK(checkCount(op, "count", count, factor, t));
  *bytes = count * dtypeSize(t) * factor;
  STRATA_CHECK(checkBuf(op, "sendbuff", sendbuff, *bytes));
  return checkBuf(op, "recvbuff", recvbuff, *bytes);
}

bool overlaps(const void* a, size_t na, const void* b, size_t nb) {
  auto x = reinterpret_cast<uintptr_t>(a);
  auto y = reinterpret_cast<uintptr_t>(b);
  return na > 0 && nb > 0 && x < y + nb && y < x + na;
}

Status checkApart(const char* op, const void* sendbuff, size_t sendBytes, const void* recvbuff,
                  size_t recvBytes, bool inPlace, const char* rule) {
  if (inPlace || !overlaps(sendbuff, sendBytes, recvbuff, recvBytes)) return Status::ok();
  return makeError(strataInvalidArgument, "%s: sendbuff and recvbuff overlap without being equal%s",
                   op, rule);
}

bool isPartOf(const void* part, size_t bytes, const void* whole, size_t offset) {
  return bytes > 0 && static_cast<const char*>(part) == static_cast<const char*>(whole) + offset;
}

Status checkGatherBufs(const char* op, int rank, int nranks, const void* sendbuff,
                       const void* recvbuff, size_t bytes, bool* inPlace) {
  STRATA_CHECK(checkBuf(op, "sendbuff", sendbuff, bytes));
  STRATA_CHECK(checkBuf(op, "recvbuff", recvbuff, bytes * static_cast<size_t>(nranks)));
  *inPlace = isPartOf(sendbuff, bytes, recvbuff, bytes * static_cast<size_t>(rank));
  return Status::ok();
}

CollArgs collArgs(CollType coll, const void* sendbuff, void* recvbuff, size_t count,
                  strataDataType_t dtype) {
  CollArgs a;
  a.coll = coll;
  a.sendbuff = sendbuff;
  a.recvbuff = recvbuff;
  a.count = count;
  a.dtype = dtype;
  return a;
}

}  // namespace strata::api
