// The AVX-512 kernels: built with -mavx512f -mavx512bw -mavx512vl -mavx512dq plus the AVX2 set,
// run only when the CPU reports all of them.
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || \
    !defined(__AVX512DQ__) || !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "kernels_avx512.cc must be built with the AVX-512 F/BW/VL/DQ, AVX2, FMA and F16C flags"
#endif

#define STRATA_ISA_NS avx512
#include "reduce/kernels_impl.h"

namespace strata {

const KernelTable& kernelsAvx512() {
  static constexpr KernelTable kTable = avx512::makeKernelTable("avx512");
  return kTable;
}

}  // namespace strata
