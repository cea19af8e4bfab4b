#include "reduce/reduce.h"

#include <cpuid.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <type_traits>

#include "base/logging.h"
#include "reduce/kernel_table.h"

namespace strata {
namespace {

// F16C through CPUID: not every compiler's __builtin_cpu_supports knows it. The OS-support
// (XSAVE) check that matters for F16C is the AVX one __builtin_cpu_supports("avx2") makes.
bool cpuHasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

const KernelTable& activeKernels() { return activeKernelTable(); }

}  // namespace

// Chosen once, on first use: CPUID does not change while the process runs.
const KernelTable& activeKernelTable() {
  static const KernelTable& table = []() -> const KernelTable& {
    ReduceIsa isa = chooseReduceIsa(detectReduceIsa(), std::getenv("STRATA_REDUCE_ISA"));
    STRATA_INFO(kInit, "reduce kernels: %s", reduceIsaName(isa));
    return kernelsFor(isa);
  }();
  return table;
}

ReduceFn reduceKernel(strataDataType_t t, strataRedOp_t op) {
  if (!validType(t) || !validOp(op)) return nullptr;
  int kernelOp = op == strataAvg ? strataSum : op;
  return activeKernels().reduce[t][kernelOp];
}

void toFloat32(strataDataType_t t, const void* src, float* dst, size_t n) {
  if (validType(t)) activeKernels().toFloat32[t](src, dst, n);
}

void fromFloat32(strataDataType_t t, const float* src, void* dst, size_t n) {
  if (validType(t)) activeKernels().fromFloat32[t](src, dst, n);
}

namespace {
constexpr size_t kStageElems = 1024;  // float32 staging per pass: two 4 KiB buffers on the stack
}

void reduceOperands(strataDataType_t t, strataRedOp_t op, void* dst, const void* first,
                    size_t strideBytes, int count, size_t n) {
  const ReduceFn fn = reduceKernel(t, op);
  if (!fn || count < 1) return;
  const auto* base = static_cast<const std::byte*>(first);
  const size_t es = dtypeSize(t);
  if (count == 1) {
    if (dst != first) std::memmove(dst, first, n * es);
    return;
  }
  if (!isLowPrecision(t)) {
    fn(dst, base, base + strideBytes, n);
    for (int k = 2; k < count; ++k) fn(dst, dst, base + static_cast<size_t>(k) * strideBytes, n);
    return;
  }
  const ReduceFn f32 = reduceKernel(strataFloat32, op);
  float acc[kStageElems];
  float next[kStageElems];
  for (size_t i = 0; i < n; i += kStageElems) {
    const size_t m = std::min(kStageElems, n - i);
    toFloat32(t, base + i * es, acc, m);
    for (int k = 1; k < count; ++k) {
      toFloat32(t, base + static_cast<size_t>(k) * strideBytes + i * es, next, m);
      f32(acc, acc, next, m);
    }
    fromFloat32(t, acc, static_cast<std::byte*>(dst) + i * es, m);
  }
}

void reduceOperandList(strataDataType_t t, strataRedOp_t op, void* dst, const void* const* srcs,
                       int count, size_t n) {
  const ReduceFn fn = reduceKernel(t, op);
  if (!fn || count < 1) return;
  const size_t es = dtypeSize(t);
  auto* out = static_cast<std::byte*>(dst);
  auto src = [&](int k, size_t i) { return static_cast<const std::byte*>(srcs[k]) + i * es; };
  if (count == 1) {
    if (dst != srcs[0]) std::memmove(dst, srcs[0], n * es);
    return;
  }
  if (!isLowPrecision(t)) {
    // Accumulating in dst is safe unless dst is an operand read after the first step.
    bool aliased = false;
    for (int k = 2; k < count; ++k) aliased = aliased || srcs[k] == dst;
    alignas(64) std::byte tmp[kStageElems * 8];
    const size_t block = sizeof tmp / es;
    for (size_t i = 0; i < n; i += block) {
      const size_t m = std::min(block, n - i);
      std::byte* acc = aliased ? tmp : out + i * es;
      fn(acc, src(0, i), src(1, i), m);
      for (int k = 2; k < count; ++k) fn(acc, acc, src(k, i), m);
      if (aliased) std::memcpy(out + i * es, tmp, m * es);
    }
    return;
  }
  const ReduceFn f32 = reduceKernel(strataFloat32, op);
  float acc[kStageElems];
  float next[kStageElems];
  for (size_t i = 0; i < n; i += kStageElems) {
    const size_t m = std::min(kStageElems, n - i);
    toFloat32(t, src(0, i), acc, m);
    for (int k = 1; k < count; ++k) {
      toFloat32(t, src(k, i), next, m);
      f32(acc, acc, next, m);
    }
    fromFloat32(t, acc, out + i * es, m);
  }
}

void convertElements(strataDataType_t from, const void* src, strataDataType_t to, void* dst,
                     size_t n) {
  if (!validType(from) || !validType(to)) return;
  if (from == to) {
    std::memmove(dst, src, n * dtypeSize(from));
  } else if (to == strataFloat32) {
    toFloat32(from, src, static_cast<float*>(dst), n);
  } else if (from == strataFloat32) {
    fromFloat32(to, static_cast<const float*>(src), dst, n);
  } else {
    float tmp[kStageElems];
    const size_t inSize = dtypeSize(from);
    const size_t outSize = dtypeSize(to);
    for (size_t i = 0; i < n; i += kStageElems) {
      const size_t m = std::min(kStageElems, n - i);
      toFloat32(from, static_cast<const std::byte*>(src) + i * inSize, tmp, m);
      fromFloat32(to, tmp, static_cast<std::byte*>(dst) + i * outSize, m);
    }
  }
}

namespace {

// dst[i] = src[i] x s in T's own arithmetic; integers through their unsigned type, so a product
// that overflows wraps instead of being undefined.
template <typename T, bool = std::is_integral_v<T>>
struct Multiplied {
  using type = T;
};
template <typename T>
struct Multiplied<T, true> {
  using type = std::make_unsigned_t<T>;
};

template <typename T>
void multiplyAs(const void* src, const void* scalar, void* dst, size_t n) {
  using M = typename Multiplied<T>::type;
  T s;
  std::memcpy(&s, scalar, sizeof s);
  const auto* in = static_cast<const T*>(src);
  auto* out = static_cast<T*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<T>(static_cast<M>(in[i]) * static_cast<M>(s));
}

}  // namespace

void preMultiply(strataDataType_t t, const void* src, const void* scalar, strataDataType_t to,
                 void* dst, size_t n) {
  switch (t) {
    case strataInt8: return multiplyAs<int8_t>(src, scalar, dst, n);
    case strataUint8: return multiplyAs<uint8_t>(src, scalar, dst, n);
    case strataInt32: return multiplyAs<int32_t>(src, scalar, dst, n);
    case strataUint32: return multiplyAs<uint32_t>(src, scalar, dst, n);
    case strataInt64: return multiplyAs<int64_t>(src, scalar, dst, n);
    case strataUint64: return multiplyAs<uint64_t>(src, scalar, dst, n);
    case strataFloat32: return multiplyAs<float>(src, scalar, dst, n);
    case strataFloat64: return multiplyAs<double>(src, scalar, dst, n);
    default: break;
  }
  if (!isLowPrecision(t)) return;
  float s = 0;
  toFloat32(t, scalar, &s, 1);
  const size_t es = dtypeSize(t);
  float buf[kStageElems];
  for (size_t i = 0; i < n; i += kStageElems) {
    const size_t m = std::min(kStageElems, n - i);
    toFloat32(t, static_cast<const std::byte*>(src) + i * es, buf, m);
    for (size_t k = 0; k < m; ++k) buf[k] *= s;
    if (to == strataFloat32)
      std::memcpy(static_cast<float*>(dst) + i, buf, m * sizeof(float));
    else
      fromFloat32(t, buf, static_cast<std::byte*>(dst) + i * es, m);
  }
}

// A divisor below 1 (never a rank count) leaves buf unchanged rather than dividing by zero.
void divideInPlace(strataDataType_t t, void* buf, size_t n, int divisor) {
  if (validType(t) && divisor >= 1) activeKernels().divide[t](buf, n, divisor);
}

const char* reduceIsaName() { return activeKernels().isaName; }

const char* reduceIsaName(ReduceIsa isa) {
  switch (isa) {
    case ReduceIsa::kScalar:
      return "scalar";
    case ReduceIsa::kAvx2:
      return "avx2";
    case ReduceIsa::kAvx512:
      return "avx512";
  }
  return "scalar";
}

ReduceIsa detectReduceIsa() {
  __builtin_cpu_init();  // may run before libgcc's own constructor
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpuHasF16c();
  bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (avx512) return ReduceIsa::kAvx512;
  return avx2 ? ReduceIsa::kAvx2 : ReduceIsa::kScalar;
}

ReduceIsa chooseReduceIsa(ReduceIsa detected, const char* request) {
  if (request == nullptr || request[0] == '\0') return detected;
  for (ReduceIsa isa : {ReduceIsa::kScalar, ReduceIsa::kAvx2, ReduceIsa::kAvx512}) {
    if (std::strcmp(request, reduceIsaName(isa)) != 0) continue;
    if (isa <= detected) return isa;
    STRATA_WARN("STRATA_REDUCE_ISA=%s: this CPU supports only %s; using %s", request,
                reduceIsaName(detected), reduceIsaName(detected));
    return detected;
  }
  STRATA_WARN("STRATA_REDUCE_ISA=%s is not one of scalar, avx2, avx512; using %s", request,
              reduceIsaName(detected));
  return detected;
}

const KernelTable& kernelsFor(ReduceIsa isa) {
  switch (isa) {
    case ReduceIsa::kAvx512:
      return kernelsAvx512();
    case ReduceIsa::kAvx2:
      return kernelsAvx2();
    case ReduceIsa::kScalar:
      break;
  }
  return kernelsScalar();
}

}  // namespace strata
