// Buffer arguments: any object exposing the buffer protocol (numpy arrays, memoryview,
// bytearray, array.array) or a CPU torch tensor, viewed in place without copying; element types
// and reduction operators from their names.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "strata/strata.h"

namespace strata::python {

enum class Access { kRead, kWrite };

// The element type named by `name` ("float32", "bfloat16", "int"...; a numpy dtype, a torch
// dtype or a strata.DataType also do). `what` names the argument in the error.
strataDataType_t dataTypeFrom(pybind11::handle name, const std::string& what);
// The element type's name as the binding spells it ("bfloat16").
const char* dataTypeName(strataDataType_t dtype);
size_t dataTypeSize(strataDataType_t dtype);

// The reduction operator named by `name` ("sum", "prod", "max", "min", "avg"), a strata.RedOp
// or a strata.PreMulSumOp.
strataRedOp_t redOpFrom(pybind11::handle name);

// One buffer argument, holding the object (and its buffer-protocol view) alive while the library
// may use the memory.
class BufferArg {
 public:
  // Views obj as the argument called `name` of `op`. dtype, when given, overrides the element
  // type the object declares (e.g. "bfloat16" over a numpy uint16 array); the element count is
  // then the byte size over the type's size. Raises InvalidArgumentError naming the argument
  // when obj is not contiguous, read-only where it must be written, not on the CPU, or of a type
  // Strata cannot reduce.
  static BufferArg view(pybind11::handle obj, const char* op, const char* name, Access access,
                        std::optional<strataDataType_t> dtype);

  void* data() const { return data_; }
  size_t count() const { return count_; }
  strataDataType_t dtype() const { return dtype_; }
  const char* name() const { return name_; }

 private:
  struct ViewRelease {
    void operator()(Py_buffer* view) const;
  };

  pybind11::object owner_;
  std::shared_ptr<Py_buffer> view_;  // empty for torch tensors
  void* data_ = nullptr;
  size_t count_ = 0;
  strataDataType_t dtype_ = strataUint8;
  const char* name_ = "";
};

// An op of strataRedOpCreatePreMulSum (Comm.redop_create_premul_sum): its id, and for a device
// scalar the buffer the library reads it from, kept alive as long as the op object.
struct PreMulSumOp {
  strataRedOp_t op = strataSum;
  strataDataType_t dtype = strataFloat32;
  strataScalarResidence_t residence = strataScalarHostImmediate;
  std::optional<BufferArg> device;
};

}  // namespace strata::python
