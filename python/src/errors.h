// Failed calls as Python exceptions: a CallError thrown anywhere in the binding is raised in
// Python as the strata.StrataError subclass of its result code (strata/_errors.py), carrying the
// code and the library's last-error message.
#pragma once

#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "strata/strata.h"

namespace strata::python {

class CallError : public std::runtime_error {
 public:
  // `what` names the failed call; lastError is the library's message for it (may be empty).
  CallError(strataResult_t code, const std::string& what, std::string lastError);
  // An error the binding detected itself: message is the whole text.
  CallError(strataResult_t code, const std::string& message);

  strataResult_t code() const { return code_; }
  const std::string& lastError() const { return lastError_; }

 private:
  strataResult_t code_;
  std::string lastError_;
};

// Throws a CallError when res is neither strataSuccess nor one of the codes in `accepted`
// (e.g. strataInProgress for a nonblocking init). The message is comm's last error, or the
// calling thread's when comm is NULL.
void check(strataResult_t res, const char* what, strataComm_t comm = nullptr,
           strataResult_t accepted = strataSuccess);

// An argument the binding rejects before calling the library: InvalidArgumentError, which is
// also a ValueError.
[[noreturn]] void invalidArgument(const std::string& message);

// A call that is wrong in the binding's current state: InvalidUsageError.
[[noreturn]] void invalidUsage(const std::string& message);

void registerErrorTranslator();

}  // namespace strata::python
