// The AVX2 kernels: built with -mavx2 -mfma -mf16c, run only when the CPU reports all three.
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "kernels_avx2.cc must be built with -mavx2 -mfma -mf16c"
#endif

#define STRATA_ISA_NS avx2
#include "reduce/kernels_impl.h"

namespace strata {

const KernelTable& kernelsAvx2() {
  static constexpr KernelTable kTable = avx2::makeKernelTable("avx2");
  return kTable;
}

}  // namespace strata
