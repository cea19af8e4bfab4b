#include "buffer_arg.h"

#include <array>
#include <string_view>
#include <unordered_map>

#include "errors.h"

namespace py = pybind11;

namespace strata::python {

namespace {

struct TypeName {
  std::string_view name;
  strataDataType_t dtype;
};

// Accepted spellings; the first one of each type is its canonical name.
constexpr std::array kTypeNames{
    TypeName{"int8", strataInt8},
    TypeName{"uint8", strataUint8},
    TypeName{"int32", strataInt32},
    TypeName{"uint32", strataUint32},
    TypeName{"int64", strataInt64},
    TypeName{"uint64", strataUint64},
    TypeName{"float16", strataFloat16},
    TypeName{"float32", strataFloat32},
    TypeName{"float64", strataFloat64},
    TypeName{"bfloat16", strataBfloat16},
    TypeName{"float8_e4m3", strataFloat8e4m3},
    TypeName{"float8_e5m2", strataFloat8e5m2},
    TypeName{"char", strataInt8},
    TypeName{"int", strataInt32},
    TypeName{"half", strataFloat16},
    TypeName{"float", strataFloat32},
    TypeName{"double", strataFloat64},
    TypeName{"float8_e4m3fn", strataFloat8e4m3},
};

constexpr std::array kTypeSizes{1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};

// dataTypeName indexes kTypeNames by the enum: its first entries follow the enum's order.
static_assert(kTypeNames[strataBfloat16].dtype == strataBfloat16 &&
              kTypeNames[strataFloat8e5m2].dtype == strataFloat8e5m2 &&
              kTypeSizes.size() == strataNumTypes);

std::optional<strataDataType_t> lookupType(std::string_view name) {
  if (name.starts_with("torch.")) name.remove_prefix(6);
  for (const auto& t : kTypeNames)
    if (t.name == name) return t.dtype;
  return std::nullopt;
}

std::string typeNameList() {
  std::string list;
  for (size_t i = 0; i < strataNumTypes; ++i)
    list += (i ? ", " : "") + std::string(kTypeNames[i].name);
  return list;
}

// The Strata type of a buffer-protocol format (struct module syntax) of itemsize bytes.
std::optional<strataDataType_t> typeOfFormat(std::string_view format, size_t itemsize) {
  if (!format.empty() && (format[0] == '@' || format[0] == '=' || format[0] == '<'))
    format.remove_prefix(1);
  if (format.size() != 1) return std::nullopt;
  switch (format[0]) {
    case 'b':
      return strataInt8;
    case 'B':
      return strataUint8;
    case 'e':
      return strataFloat16;
    case 'f':
      return strataFloat32;
    case 'd':
      return strataFloat64;
    case 'i':
    case 'l':
    case 'q':
      if (itemsize == 4) return strataInt32;
      if (itemsize == 8) return strataInt64;
      return std::nullopt;
    case 'I':
    case 'L':
    case 'Q':
      if (itemsize == 4) return strataUint32;
      if (itemsize == 8) return strataUint64;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::string argName(const char* op, const char* name) { return std::string(op) + ": " + name; }

// The Strata type of a torch dtype. torch's dtypes are singletons, so the answer is kept per
// object (holding a reference) instead of formatting the name on every call.
std::optional<strataDataType_t> tensorType(py::handle torchType) {
  static auto* known = new std::unordered_map<PyObject*, std::optional<strataDataType_t>>();
  auto it = known->find(torchType.ptr());
  if (it != known->end()) return it->second;
  std::optional<strataDataType_t> type = lookupType(std::string(py::str(torchType)));
  known->emplace(torchType.inc_ref().ptr(), type);
  return type;
}

}  // namespace

strataDataType_t dataTypeFrom(py::handle name, const std::string& what) {
  if (py::isinstance<strataDataType_t>(name)) return name.cast<strataDataType_t>();
  std::string text = py::str(name);
  if (auto t = lookupType(text)) return *t;
  invalidArgument(what + ": no Strata element type is called '" + text +
                  "' (types: " + typeNameList() + ")");
}

const char* dataTypeName(strataDataType_t dtype) {
  return dtype < strataNumTypes ? kTypeNames[dtype].name.data() : "unknown";
}

size_t dataTypeSize(strataDataType_t dtype) { return kTypeSizes.at(dtype); }

strataRedOp_t redOpFrom(py::handle name) {
  if (py::isinstance<strataRedOp_t>(name)) return name.cast<strataRedOp_t>();
  if (py::isinstance<PreMulSumOp>(name)) return name.cast<const PreMulSumOp&>().op;
  std::string text = py::str(name);
  if (text == "sum") return strataSum;
  if (text == "prod" || text == "product") return strataProd;
  if (text == "max") return strataMax;
  if (text == "min") return strataMin;
  if (text == "avg") return strataAvg;
  invalidArgument("op: no Strata reduction is called '" + text +
                  "' (operators: sum, prod, max, min, avg, or a PreMulSumOp of "
                  "Comm.redop_create_premul_sum)");
}

void BufferArg::ViewRelease::operator()(Py_buffer* view) const {
  PyBuffer_Release(view);
  delete view;
}

BufferArg BufferArg::view(py::handle obj, const char* op, const char* name, Access access,
                          std::optional<strataDataType_t> dtype) {
  BufferArg arg;
  arg.owner_ = py::reinterpret_borrow<py::object>(obj);
  arg.name_ = name;
  size_t bytes = 0;
  std::optional<strataDataType_t> declared;
  std::string declaredName;
  if (PyObject_CheckBuffer(obj.ptr())) {
    auto* raw = new Py_buffer{};
    if (PyObject_GetBuffer(obj.ptr(), raw, PyBUF_RECORDS_RO) != 0) {
      delete raw;
      PyErr_Clear();
      invalidArgument(argName(op, name) +
                      " is a buffer that cannot be viewed with strides and format");
    }
    arg.view_ = std::shared_ptr<Py_buffer>(raw, ViewRelease{});
    if (access == Access::kWrite && raw->readonly)
      invalidArgument(argName(op, name) + " is read-only, but " + op + " writes into it");
    if (!PyBuffer_IsContiguous(raw, 'C'))
      invalidArgument(argName(op, name) +
                      " is not contiguous (pass a contiguous copy, e.g. numpy.ascontiguousarray)");
    arg.data_ = raw->buf;
    bytes = static_cast<size_t>(raw->len);
    declaredName = raw->format ? raw->format : "B";
    declared = typeOfFormat(declaredName, static_cast<size_t>(raw->itemsize));
    declaredName = "buffer format '" + declaredName + "'";
  } else if (PyObject_HasAttrString(obj.ptr(), "data_ptr") &&
             PyObject_HasAttrString(obj.ptr(), "is_cpu")) {
    // A torch tensor, used through its own accessors so that this module needs no libtorch.
    if (!obj.attr("is_cpu").cast<bool>())
      invalidArgument(argName(op, name) + " is a tensor on " +
                      std::string(py::str(obj.attr("device"))) + "; Strata moves CPU memory only");
    if (!obj.attr("is_contiguous")().cast<bool>())
      invalidArgument(argName(op, name) + " is not contiguous (pass tensor.contiguous())");
    arg.data_ = reinterpret_cast<void*>(obj.attr("data_ptr")().cast<uintptr_t>());
    bytes = obj.attr("numel")().cast<size_t>() * obj.attr("element_size")().cast<size_t>();
    py::object torchType = obj.attr("dtype");
    declared = tensorType(torchType);
    if (!declared) declaredName = py::str(torchType);
  } else {
    invalidArgument(argName(op, name) + " is a " +
                    std::string(py::str(py::type::handle_of(obj).attr("__name__"))) +
                    ", which neither exposes the buffer protocol nor is a torch tensor");
  }
  if (dtype) {
    arg.dtype_ = *dtype;
  } else if (declared) {
    arg.dtype_ = *declared;
  } else {
    invalidArgument(argName(op, name) + " has " + declaredName +
                    ", which is no Strata element type; pass dtype= (e.g. dtype=\"bfloat16\" for "
                    "a 16-bit array holding bfloat16 values)");
  }
  size_t size = dataTypeSize(arg.dtype_);
  if (bytes % size != 0)
    invalidArgument(argName(op, name) + " holds " + std::to_string(bytes) +
                    " bytes, not a whole number of " + dataTypeName(arg.dtype_) + " elements");
  arg.count_ = bytes / size;
  return arg;
}

}  // namespace strata::python
