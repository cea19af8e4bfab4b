#include "runtime/error_state.h"

namespace strata {

void ErrorState::record(const Status& s) {
  if (s.isOk()) return;
  std::lock_guard<std::mutex> g(mutex_);
  lastError_ = s.message();
}

bool ErrorState::fail(const Status& s) {
  if (s.isOk()) return false;
  std::lock_guard<std::mutex> g(mutex_);
  lastError_ = s.message();
  if (!failure_.isOk()) return false;
  failure_ = s;
  return true;
}

std::string ErrorState::lastError() {
  std::lock_guard<std::mutex> g(mutex_);
  return lastError_;
}

Status ErrorState::failure() {
  std::lock_guard<std::mutex> g(mutex_);
  return failure_;
}

}  // namespace strata
