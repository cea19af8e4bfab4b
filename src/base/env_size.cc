#include "base/env_size.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace strata {

Result<bool> sizeFromEnv(const char* var, size_t max, size_t& out) {
  const char* text = std::getenv(var);
  if (text == nullptr || *text == '\0') return false;
  const std::string_view s(text);
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  const std::string_view rest(ptr, static_cast<size_t>(s.data() + s.size() - ptr));
  size_t shift = 0;
  if (rest == "K" || rest == "k")
    shift = 10;
  else if (rest == "M" || rest == "m")
    shift = 20;
  else if (rest == "G" || rest == "g")
    shift = 30;
  else if (!rest.empty())
    ec = std::errc::invalid_argument;
  if (ec != std::errc() || value == 0 || value > (max >> shift))
    return makeError(strataInvalidArgument, "%s=%s is not a number between 1 and %zu", var, text,
                     max);
  out = value << shift;
  return true;
}

}  // namespace strata
