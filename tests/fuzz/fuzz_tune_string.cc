// Feeds arbitrary text to the tune-string parser (STRATA_ALGO, strataConfig_t.algo). A rejected
// string must come with a message; an accepted one must only hold rules with sane ranges.
#include <cstddef>
#include <cstdint>
#include <string>

#include "scheduler/tune_string.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string spec(reinterpret_cast<const char*>(data), size);
  auto table = strata::TuneTable::parse(spec, "fuzz input");
  if (!table.isOk()) {
    if (table.status().message().empty()) __builtin_trap();
    return 0;
  }
  for (const auto& rule : table.value().rules()) {
    if (rule.lo > rule.hi || rule.nlo > rule.nhi || rule.algo.empty()) __builtin_trap();
    (void)table.value().lookup(rule.coll, rule.lo, rule.nlo);
  }
  return 0;
}
