#include "common/datatypes.h"

#include <algorithm>
#include <cctype>

namespace strata::perf {
namespace {

struct TypeEntry {
  strataDataType_t type;
  const char* name;
  size_t size;
};

constexpr TypeEntry kTypes[] = {
    {strataInt8, "int8", 1},         {strataUint8, "uint8", 1},
    {strataInt32, "int32", 4},       {strataUint32, "uint32", 4},
    {strataInt64, "int64", 8},       {strataUint64, "uint64", 8},
    {strataFloat16, "half", 2},      {strataFloat32, "float", 4},
    {strataFloat64, "double", 8},    {strataBfloat16, "bfloat16", 2},
    {strataFloat8e4m3, "f8e4m3", 1}, {strataFloat8e5m2, "f8e5m2", 1},
};

struct Alias {
  const char* name;
  strataDataType_t type;
};

// Spellings of older nccl-tests and of common frameworks.
constexpr Alias kTypeAliases[] = {
    {"char", strataInt8},           {"int", strataInt32},           {"float16", strataFloat16},
    {"fp16", strataFloat16},        {"float32", strataFloat32},     {"fp32", strataFloat32},
    {"float64", strataFloat64},     {"fp64", strataFloat64},        {"bf16", strataBfloat16},
    {"e4m3", strataFloat8e4m3},     {"fp8_e4m3", strataFloat8e4m3}, {"e5m2", strataFloat8e5m2},
    {"fp8_e5m2", strataFloat8e5m2},
};

struct OpEntry {
  strataRedOp_t op;
  const char* name;
};

constexpr OpEntry kOps[] = {
    {strataSum, "sum"}, {strataProd, "prod"}, {strataMax, "max"},
    {strataMin, "min"}, {strataAvg, "avg"}, {kPreMulSum, "mulsum"},
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

const std::vector<strataDataType_t>& allTypes() {
  static const std::vector<strataDataType_t> types = [] {
    std::vector<strataDataType_t> v;
    for (const auto& t : kTypes) v.push_back(t.type);
    return v;
  }();
  return types;
}

const std::vector<strataRedOp_t>& allOps() {
  static const std::vector<strataRedOp_t> ops = [] {
    std::vector<strataRedOp_t> v;
    for (const auto& o : kOps) v.push_back(o.op);
    return v;
  }();
  return ops;
}

size_t typeSize(strataDataType_t type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.size;
  return 0;
}

const char* typeName(strataDataType_t type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.name;
  return "?";
}

const char* opName(strataRedOp_t op) {
  for (const auto& o : kOps)
    if (o.op == op) return o.name;
  return "?";
}

std::optional<std::vector<strataDataType_t>> parseTypes(const std::string& text) {
  const std::string s = lower(text);
  if (s == "all") return allTypes();
  for (const auto& t : kTypes)
    if (s == t.name) return std::vector<strataDataType_t>{t.type};
  for (const auto& a : kTypeAliases)
    if (s == a.name) return std::vector<strataDataType_t>{a.type};
  return std::nullopt;
}

std::optional<std::vector<strataRedOp_t>> parseOps(const std::string& text) {
  const std::string s = lower(text);
  if (s == "all") return allOps();
  for (const auto& o : kOps)
    if (s == o.name) return std::vector<strataRedOp_t>{o.op};
  return std::nullopt;
}

std::string typeChoices() {
  std::string s;
  for (const auto& t : kTypes) s += std::string(t.name) + "/";
  return s + "all";
}

std::string opChoices() {
  std::string s;
  for (const auto& o : kOps) s += std::string(o.name) + "/";
  return s + "all";
}

}  // namespace strata::perf
