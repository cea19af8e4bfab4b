#include "base/dtype.h"

namespace strata {
namespace {

struct DtypeInfo {
  size_t size;
  const char* name;
  bool lowPrecision;
};

// Indexed by strataDataType_t; names follow nccl-tests.
constexpr DtypeInfo kDtypes[strataNumTypes] = {
    {1, "int8", false},   {1, "uint8", false},   {4, "int32", false}, {4, "uint32", false},
    {8, "int64", false},  {8, "uint64", false},  {2, "half", true},   {4, "float", false},
    {8, "double", false}, {2, "bfloat16", true}, {1, "f8e4m3", true}, {1, "f8e5m2", true},
};

constexpr const char* kOpNames[strataNumOps] = {"sum", "prod", "max", "min", "avg"};

}  // namespace

size_t dtypeSize(strataDataType_t t) { return validType(t) ? kDtypes[t].size : 0; }

const char* dtypeName(strataDataType_t t) { return validType(t) ? kDtypes[t].name : "invalid"; }

const char* redopName(strataRedOp_t op) { return validOp(op) ? kOpNames[op] : "invalid"; }

bool isLowPrecision(strataDataType_t t) { return validType(t) && kDtypes[t].lowPrecision; }

}  // namespace strata
