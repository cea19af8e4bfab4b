// Feeds arbitrary text to both tune parsers: the tune string (STRATA_ALGO, strataConfig_t.algo)
// and the tune file (STRATA_TUNE_FILE, JSON). A rejected input must come with a message; an
// accepted one must only hold rules with sane ranges, and an accepted file must read back the
// same from its own JSON.
#include <cstddef>
#include <cstdint>
#include <string>

#include "scheduler/tune_file.h"
#include "scheduler/tune_string.h"

namespace {

void checkRules(const strata::TuneTable& table) {
  for (const auto& rule : table.rules()) {
    if (rule.lo > rule.hi || rule.nlo > rule.nhi || rule.algo.empty()) __builtin_trap();
    if (table.lookup(rule.coll, rule.lo, rule.nlo, rule.dtype) == nullptr) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto table = strata::TuneTable::parse(text, "fuzz input");
  if (!table.isOk()) {
    if (table.status().message().empty()) __builtin_trap();
  } else {
    checkRules(table.value());
  }

  auto file = strata::parseTuneFile(text, "fuzz input");
  if (!file.isOk()) {
    if (file.status().message().empty()) __builtin_trap();
    return 0;
  }
  checkRules(file.value().table);
  auto again = strata::parseTuneFile(strata::tuneFileToJson(file.value()), "round trip");
  if (!again.isOk() || again.value().table.rules().size() != file.value().table.rules().size() ||
      again.value().levels != file.value().levels)
    __builtin_trap();
  return 0;
}
