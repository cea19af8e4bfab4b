// Element types and reduction operators as every layer sees them: size, name, range checks.
#pragma once

#include <cstddef>

#include "strata/strata.h"

namespace strata {

// Whether an integer from the C edge names a type / an operator (checked before the enum is used).
inline bool validType(strataDataType_t t) {
  const int i = static_cast<int>(t);
  return i >= 0 && i < strataNumTypes;
}
inline bool validOp(strataRedOp_t op) {
  const int i = static_cast<int>(op);
  return i >= 0 && i < strataNumOps;
}

// Bytes per element; 0 for an invalid type.
size_t dtypeSize(strataDataType_t t);
// "float", "bfloat16", ... as nccl-tests names them; "invalid" otherwise.
const char* dtypeName(strataDataType_t t);
const char* redopName(strataRedOp_t op);

// fp16, bf16 and the fp8 formats: reduction kernels accumulate them in float32 and round once
// per op.
bool isLowPrecision(strataDataType_t t);

}  // namespace strata
