// What the JSON readers (topology files, tune files) share for their error messages: a refusal
// names the JSON pointer of the offending value and the problem; values are quoted shortened.
#pragma once

#include <cstdarg>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace strata::json {

using Json = nlohmann::ordered_json;

// strataInvalidArgument "<pointer>: <problem>" ("/" for the document itself).
__attribute__((format(printf, 2, 3))) inline Status fail(const std::string& path, const char* fmt,
                                                         ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string msg = vformat(fmt, ap);
  va_end(ap);
  return Status(strataInvalidArgument, (path.empty() ? "/" : path) + ": " + msg);
}

// A value as it appears in the file, cut to 40 characters.
inline std::string describe(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

// v must be an object whose keys are all among `keys`.
inline Status expectObject(const Json& v, const std::string& path,
                           std::initializer_list<const char*> keys) {
  if (!v.is_object()) return fail(path, "expected an object, got %s", describe(v).c_str());
  for (const auto& item : v.items()) {
    bool known = false;
    for (const char* k : keys) known = known || item.key() == k;
    if (known) continue;
    std::string list;
    for (const char* k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
    return fail(path + "/" + item.key(), "unknown key (expected one of: %s)", list.c_str());
  }
  return Status::ok();
}

}  // namespace strata::json
