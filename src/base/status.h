// Status and Result<T>: the one error model inside Strata. Hot paths return these instead of
// throwing; the C edge turns them into strataResult_t plus a recorded message.
#pragma once

#include <cstdarg>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "strata/strata.h"

namespace strata {

// An error code with a message that names the argument, peer rank or operation at fault. Success
// carries no message, so passing an ok Status around costs no more than passing its code.
class Status {
 public:
  Status() = default;
  Status(strataResult_t code, std::string message)
      : code_(code), message_(std::make_unique<std::string>(std::move(message))) {}
  Status(const Status& o)
      : code_(o.code_), message_(o.message_ ? std::make_unique<std::string>(*o.message_) : nullptr) {}
  Status(Status&&) noexcept = default;
  Status& operator=(const Status& o) {
    if (this != &o) *this = Status(o);
    return *this;
  }
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status ok() { return {}; }
  bool isOk() const { return code_ == strataSuccess; }
  explicit operator bool() const { return isOk(); }
  strataResult_t code() const { return code_; }
  const std::string& message() const { return message_ ? *message_ : emptyMessage(); }

  // Prefixes the message with where it was seen, keeping the original code: the error trail.
  Status& context(const std::string& where) {
    if (!isOk()) message_ = std::make_unique<std::string>(where + ": " + message());
    return *this;
  }

 private:
  static const std::string& emptyMessage() {
    static const std::string empty;
    return empty;
  }

  strataResult_t code_ = strataSuccess;
  std::unique_ptr<std::string> message_;
};

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string vformat(const char* fmt, va_list ap);

Status makeError(strataResult_t code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}      // NOLINT(google-explicit-constructor)

  bool isOk() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return isOk(); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  T& operator*() { return std::get<T>(v_); }
  Status status() const { return isOk() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace strata

// Propagates a failed Status (or Result) from expr, logging the trail at TRACE level.
#define STRATA_CHECK(expr)                                                     \
  do {                                                                         \
    ::strata::Status strata_check_s_ = (expr);                                 \
    if (!strata_check_s_.isOk()) {                                             \
      ::strata::traceError(__FILE__, __LINE__, strata_check_s_);               \
      return strata_check_s_;                                                  \
    }                                                                          \
  } while (0)

// Assigns the value of a Result expression to lhs, or propagates its Status.
#define STRATA_ASSIGN_CONCAT_(a, b) a##b
#define STRATA_ASSIGN_NAME_(line) STRATA_ASSIGN_CONCAT_(strata_res_, line)
#define STRATA_ASSIGN(lhs, expr)                                              \
  auto STRATA_ASSIGN_NAME_(__LINE__) = (expr);                                \
  if (!STRATA_ASSIGN_NAME_(__LINE__).isOk()) {                                \
    auto strata_assign_s_ = STRATA_ASSIGN_NAME_(__LINE__).status();           \
    ::strata::traceError(__FILE__, __LINE__, strata_assign_s_);               \
    return strata_assign_s_;                                                  \
  }                                                                           \
  lhs = std::move(STRATA_ASSIGN_NAME_(__LINE__)).value()

namespace strata {
void traceError(const char* file, int line, const Status& s);
}
