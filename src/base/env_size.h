// Sizes and counts read from the environment: "65536", "64K", "1M", "2G".
#pragma once

#include <cstddef>

#include "base/status.h"

namespace strata {

// Reads `var` as a positive decimal with an optional K, M or G suffix (binary multiples). False
// when unset or empty; an error naming the variable when it is not a number in 1..max.
Result<bool> sizeFromEnv(const char* var, size_t max, size_t& out);

}  // namespace strata
