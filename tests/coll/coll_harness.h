// Ranks as threads: strataCommInitAll plus a thread per rank, and exact typed test values.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "reduce/reduce.h"
#include "strata/strata.h"

namespace strata::test {

// Creates nranks communicators with cfg and runs body on one thread per rank; destroys the
// communicators afterwards.
inline void runRanksWith(int nranks, const strataConfig_t& cfg,
                         const std::function<void(int rank, strataComm_t comm)>& body) {
  std::vector<strataComm_t> comms(static_cast<size_t>(nranks));
  ASSERT_EQ(strataCommInitAll(comms.data(), nranks, &cfg), strataSuccess)
      << strataGetLastError(nullptr);
  std::vector<std::thread> threads;
  for (int r = 0; r < nranks; ++r)
    threads.emplace_back([&, r] { body(r, comms[static_cast<size_t>(r)]); });
  for (auto& t : threads) t.join();
  for (auto c : comms) EXPECT_EQ(strataCommDestroy(c), strataSuccess);
}

// The same with the algorithm pinned by `algo` (a tune string) and a 60 s timeout.
inline void runRanks(int nranks, const std::string& algo,
                     const std::function<void(int rank, strataComm_t comm)>& body) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.algo = algo.empty() ? nullptr : algo.c_str();
  cfg.timeoutMs = 60000;
  runRanksWith(nranks, cfg, body);
}

// Whether an error message contains `what`.
inline bool mentions(const std::string& msg, const std::string& what) {
  return msg.find(what) != std::string::npos;
}

inline bool isSigned(strataDataType_t t) {
  return t != strataUint8 && t != strataUint32 && t != strataUint64;
}
inline bool isFloat(strataDataType_t t) {
  return t == strataFloat16 || t == strataFloat32 || t == strataFloat64 || t == strataBfloat16 ||
         t == strataFloat8e4m3 || t == strataFloat8e5m2;
}

// Small integers whose reduction is exact in every type and every order: sums stay within
// [-8, 8], products within {±1, ±2}.
inline double inputValue(strataDataType_t t, strataRedOp_t op, int rank, size_t i) {
  const bool sgn = isSigned(t);
  switch (op) {
    case strataSum:
    case strataAvg:
      return sgn ? static_cast<double>((rank + i) % 3) - 1.0 : static_cast<double>((rank + i) % 2);
    case strataProd: {
      double v = (rank < 3 && i % 4 == static_cast<size_t>(rank)) ? 2.0 : 1.0;
      if (sgn && (i + static_cast<size_t>(rank)) % 3 == 0) v = -v;
      return v;
    }
    default: {
      const double v = static_cast<double>((i * 7 + static_cast<size_t>(rank) * 3) % 11);
      return sgn ? v - 5.0 : v;
    }
  }
}

// Writes v as element i of a buffer of type t.
inline void storeValue(strataDataType_t t, void* buf, size_t i, double v) {
  switch (t) {
    case strataInt8: static_cast<int8_t*>(buf)[i] = static_cast<int8_t>(v); break;
    case strataUint8: static_cast<uint8_t*>(buf)[i] = static_cast<uint8_t>(v); break;
    case strataInt32: static_cast<int32_t*>(buf)[i] = static_cast<int32_t>(v); break;
    case strataUint32: static_cast<uint32_t*>(buf)[i] = static_cast<uint32_t>(v); break;
    case strataInt64: static_cast<int64_t*>(buf)[i] = static_cast<int64_t>(v); break;
    case strataUint64: static_cast<uint64_t*>(buf)[i] = static_cast<uint64_t>(v); break;
    case strataFloat32: static_cast<float*>(buf)[i] = static_cast<float>(v); break;
    case strataFloat64: static_cast<double*>(buf)[i] = v; break;
    default: {
      const float f = static_cast<float>(v);
      fromFloat32(t, &f, static_cast<char*>(buf) + i * dtypeSize(t), 1);
    }
  }
}

// The exact reduction over ranks 0..n-1 of inputValue(t, op, rank, idx), as type t stores it
// after rounding once (and dividing once for Avg).
inline double reducedValue(strataDataType_t t, strataRedOp_t op, int n, size_t idx) {
  double acc = inputValue(t, op, 0, idx);
  for (int q = 1; q < n; ++q) {
    const double v = inputValue(t, op, q, idx);
    switch (op) {
      case strataSum:
      case strataAvg: acc += v; break;
      case strataProd: acc *= v; break;
      case strataMax: acc = v > acc ? v : acc; break;
      case strataMin: acc = v < acc ? v : acc; break;
      default: break;
    }
  }
  if (op == strataAvg) {
    if (!isFloat(t)) acc = static_cast<double>(static_cast<long long>(acc) / n);
    else if (t == strataFloat64) acc = acc / n;
    else acc = static_cast<double>(static_cast<float>(acc) / static_cast<float>(n));
  }
  return acc;
}

// inputValue is periodic in the element index (it only uses idx mod 2, 3, 4 and 11), so
// buffers are filled from one period computed once.
constexpr size_t kValuePeriod = 132;

// Sets elements [0, elems) of buf to f(base + i).
template <typename F>
void fillPeriodic(strataDataType_t t, void* buf, size_t elems, size_t base, F&& f) {
  const size_t es = dtypeSize(t);
  std::vector<char> period(kValuePeriod * es);
  for (size_t j = 0; j < kValuePeriod; ++j) storeValue(t, period.data(), j, f(j));
  char* out = static_cast<char*>(buf);
  for (size_t i = 0; i < elems; ++i)
    std::memcpy(out + i * es, period.data() + ((base + i) % kValuePeriod) * es, es);
}

// First differing element of two buffers, or -1.
inline long firstMismatch(const void* a, const void* b, size_t count, strataDataType_t t) {
  const size_t es = dtypeSize(t);
  if (std::memcmp(a, b, count * es) == 0) return -1;
  for (size_t i = 0; i < count; ++i)
    if (std::memcmp(static_cast<const char*>(a) + i * es, static_cast<const char*>(b) + i * es, es) != 0)
      return static_cast<long>(i);
  return -1;
}

inline const std::vector<strataDataType_t>& allTypes() {
  static const std::vector<strataDataType_t> t = {
      strataInt8,    strataUint8,   strataInt32,   strataUint32,     strataInt64,
      strataUint64,  strataFloat16, strataFloat32, strataFloat64,    strataBfloat16,
      strataFloat8e4m3, strataFloat8e5m2};
  return t;
}
inline const std::vector<strataRedOp_t>& allOps() {
  static const std::vector<strataRedOp_t> o = {strataSum, strataProd, strataMax, strataMin,
                                               strataAvg};
  return o;
}

// Sets an environment variable (nullptr: unsets it) for a scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      had_ = true;
      old_ = old;
    }
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_)
      setenv(name_.c_str(), old_.c_str(), 1);
    else
      unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, old_;
  bool had_ = false;
};

}  // namespace strata::test
