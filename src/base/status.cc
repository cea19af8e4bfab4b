#include "base/status.h"

#include <cstdio>

#include "base/logging.h"

namespace strata {

std::string vformat(const char* fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  std::vsnprintf(out.data(), out.size() + 1, fmt, ap);
  return out;
}

std::string format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string out = vformat(fmt, ap);
  va_end(ap);
  return out;
}

Status makeError(strataResult_t code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string msg = vformat(fmt, ap);
  va_end(ap);
  return Status(code, std::move(msg));
}

void traceError(const char* file, int line, const Status& s) {
  STRATA_TRACE(Subsys::kAll, "%s:%d -> %s (%s)", file, line, strataGetErrorString(s.code()),
               s.message().c_str());
}

}  // namespace strata
