#include "errors.h"

namespace py = pybind11;

namespace strata::python {

namespace {

// "strataSend: invalid argument: peer 5 is outside [0, 1)" from the call's name, the code and
// the library's message (which usually starts with the call's name too).
std::string describe(strataResult_t code, const std::string& what, const std::string& lastError) {
  std::string message = what + ": " + strataGetErrorString(code);
  if (lastError.empty()) return message;
  std::string detail = lastError;
  if (detail.starts_with(what + ": ")) detail.erase(0, what.size() + 2);
  return message + ": " + detail;
}

// strata._errors.error_class, looked up once and kept for the life of the process (a static
// py::object would be released after the interpreter is gone).
py::handle errorClassFor(strataResult_t code) {
  static py::object* lookup =
      new py::object(py::module_::import("strata._errors").attr("error_class"));
  return (*lookup)(static_cast<int>(code)).release();
}

}  // namespace

CallError::CallError(strataResult_t code, const std::string& what, std::string lastError)
    : std::runtime_error(describe(code, what, lastError)),
      code_(code),
      lastError_(std::move(lastError)) {}

CallError::CallError(strataResult_t code, const std::string& message)
    : std::runtime_error(message), code_(code) {}

void check(strataResult_t res, const char* what, strataComm_t comm, strataResult_t accepted) {
  if (res == strataSuccess || res == accepted) return;
  throw CallError(res, what, strataGetLastError(comm));
}

void invalidArgument(const std::string& message) {
  throw CallError(strataInvalidArgument, message);
}

void invalidUsage(const std::string& message) { throw CallError(strataInvalidUsage, message); }

void registerErrorTranslator() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const CallError& e) {
      py::object cls = py::reinterpret_steal<py::object>(errorClassFor(e.code()));
      py::object exc = cls(static_cast<int>(e.code()), e.what(), e.lastError());
      PyErr_SetObject(cls.ptr(), exc.ptr());
    }
  });
}

}  // namespace strata::python
