#include "api/handle_registry.h"

#include <mutex>
#include <unordered_map>

namespace strata::api {
namespace {

struct Registry {
  std::mutex mu;
  std::unordered_map<const void*, HandleKind> live;
};

// Never destroyed: handles may be released from static destructors and atexit handlers.
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

}  // namespace

void registerHandle(const void* h, HandleKind kind) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.live[h] = kind;
}

bool unregisterHandle(const void* h, HandleKind kind) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.live.find(h);
  if (it == r.live.end() || it->second != kind) return false;
  r.live.erase(it);
  return true;
}

bool isLiveHandle(const void* h, HandleKind kind) {
  if (h == nullptr) return false;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.live.find(h);
  return it != r.live.end() && it->second == kind;
}

}  // namespace strata::api
