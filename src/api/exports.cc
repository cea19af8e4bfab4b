// The shared library's own translation unit: libstrata.so is strata_internal linked whole, with
// only the C API (strata*) exported through the version script strata.map.
#include "strata/strata.h"
