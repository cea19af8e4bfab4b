#include "bootstrap/rescue.h"

namespace strata {

std::string rankListString(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) {
    if (!out.empty()) out += ',';
    out += std::to_string(r);
  }
  return out;
}

}  // namespace strata
