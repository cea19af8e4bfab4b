#include "base/tsan_sync.h"

#ifdef STRATA_TSAN
#include <map>
#include <mutex>
#include <utility>

namespace strata {

const char* tsanSyncKey(const std::string& name, int index) {
  static std::mutex mu;
  static std::map<std::pair<std::string, int>, char[2]> keys;  // nodes never move
  std::lock_guard<std::mutex> lock(mu);
  return keys[{name, index}];
}

}  // namespace strata
#endif
