// Names of Strata's element types and reduction operators as the perf tools print and parse them
// (nccl-tests spellings, plus f8e4m3 and f8e5m2).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace strata::perf {

// `-o mulsum` (nccl-tests' encoding: the value after the built-in ops): a pre-multiplied sum,
// created for each call on its communicator (strataRedOpCreatePreMulSum) with rank r's scalar
// preMulScalar(r), and destroyed after it, as nccl-tests does.
inline constexpr strataRedOp_t kPreMulSum = static_cast<strataRedOp_t>(strataNumOps);
// nccl-tests' ncclVerifiablePremulScalar: 1 on even ranks, 2 on odd ones.
inline int preMulScalar(int rank) { return rank % 2 == 0 ? 1 : 2; }

// Every type, in the order `-d all` runs them.
const std::vector<strataDataType_t>& allTypes();
// Every operator, in the order `-o all` runs them.
const std::vector<strataRedOp_t>& allOps();

size_t typeSize(strataDataType_t type);
const char* typeName(strataDataType_t type);
const char* opName(strataRedOp_t op);

// "all" or one name (aliases such as fp16 or bf16 are accepted); nullopt if unknown.
std::optional<std::vector<strataDataType_t>> parseTypes(const std::string& text);
std::optional<std::vector<strataRedOp_t>> parseOps(const std::string& text);

// The names parseTypes and parseOps accept, for help and error messages.
std::string typeChoices();
std::string opChoices();

}  // namespace strata::perf
