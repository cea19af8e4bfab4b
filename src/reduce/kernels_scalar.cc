// The baseline kernels: built with the default flags, run on any x86-64 CPU.
#define STRATA_ISA_NS scalar
#include "reduce/kernels_impl.h"

namespace strata {

const KernelTable& kernelsScalar() {
  static constexpr KernelTable kTable = scalar::makeKernelTable("scalar");
  return kTable;
}

}  // namespace strata
