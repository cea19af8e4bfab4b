// The α-β fit of ping-pong times: time = α + bytes / β by least squares, weighted by 1/time² so
// that every size counts by its relative error (unweighted, the largest messages would decide
// α alone, and a small timing swing there would move it by more than it is).
#pragma once

#include <vector>

namespace strata::tune {

struct AlphaBetaFit {
  bool ok = false;     // at least two distinct sizes and a positive bandwidth
  double alphaUs = 0;  // intercept, clamped at 0
  double gbps = 0;     // 1e9 bytes/s
  double r2 = 0;       // weighted coefficient of determination (1: exact)
};

// bytes[i] took us[i] microseconds one way.
AlphaBetaFit fitAlphaBeta(const std::vector<double>& bytes, const std::vector<double>& us);

}  // namespace strata::tune
