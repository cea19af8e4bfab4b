#include "reduce/reduce.h"

#include <cpuid.h>

#include <cstdlib>
#include <cstring>
#include <initializer_list>

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

// Chosen once, on first use: CPUID does not change while the process runs.
const KernelTable& activeKernels() {
  static const KernelTable& table = []() -> const KernelTable& {
    ReduceIsa isa = chooseReduceIsa(detectReduceIsa(), std::getenv("STRATA_REDUCE_ISA"));
    STRATA_INFO(kInit, "reduce kernels: %s", reduceIsaName(isa));
    return kernelsFor(isa);
  }();
  return table;
}

}  // namespace

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
