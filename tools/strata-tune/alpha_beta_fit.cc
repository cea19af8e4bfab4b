#include "alpha_beta_fit.h"

#include <algorithm>
#include <cmath>

namespace strata::tune {

AlphaBetaFit fitAlphaBeta(const std::vector<double>& bytes, const std::vector<double>& us) {
  AlphaBetaFit f;
  const size_t n = std::min(bytes.size(), us.size());
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!(us[i] > 0)) continue;
    const double w = 1.0 / (us[i] * us[i]);
    sw += w;
    sx += w * bytes[i];
    sy += w * us[i];
    sxx += w * bytes[i] * bytes[i];
    sxy += w * bytes[i] * us[i];
  }
  const double det = sw * sxx - sx * sx;
  if (n < 2 || !(det > 0)) return f;
  const double slope = (sw * sxy - sx * sy) / det;  // us per byte
  const double alpha = (sy - slope * sx) / sw;
  if (!(slope > 0)) return f;
  const double mean = sy / sw;
  double ssRes = 0, ssTot = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!(us[i] > 0)) continue;
    const double w = 1.0 / (us[i] * us[i]);
    const double e = us[i] - (alpha + slope * bytes[i]);
    ssRes += w * e * e;
    ssTot += w * (us[i] - mean) * (us[i] - mean);
  }
  f.ok = true;
  f.alphaUs = std::max(0.0, alpha);
  f.gbps = 1.0 / slope / 1e3;  // bytes per us -> 1e9 bytes per s
  f.r2 = ssTot > 0 ? 1.0 - ssRes / ssTot : 1.0;
  return f;
}

}  // namespace strata::tune
