// strata._strata: the C API of libstrata as a Python extension module. The pure-Python package
// (strata/__init__.py) re-exports it with the exception classes and the group() context manager.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "buffer_arg.h"
#include "comm.h"
#include "moe.h"
#include "errors.h"
#include "stream.h"
#include "window.h"
#include "without_gil.h"

namespace py = pybind11;
using namespace strata::python;

namespace {

py::bytes uniqueId() {
  strataUniqueId id;
  check(withoutGil([&] { return strataGetUniqueId(&id); }), "strataGetUniqueId");
  return py::bytes(id.internal, sizeof id.internal);
}

int version() {
  int v = 0;
  check(strataGetVersion(&v), "strataGetVersion");
  return v;
}

py::dict simTimingOnly(const std::string& collective, size_t count, py::handle dtype, py::handle op,
                       int root, bool inPlace, py::handle config) {
  ConfigArg cfg(config);
  strataDataType_t dt = dataTypeFrom(dtype, "dtype");
  strataRedOp_t red = redOpFrom(op);
  strataSimResult_t r{};
  check(withoutGil([&] {
          return strataSimTimingOnly(cfg.get(), collective.c_str(), count, dt, red, root,
                                     inPlace ? 1 : 0, &r);
        }),
        "strataSimTimingOnly");
  py::list bytes;
  for (int i = 0; i < r.numLevels && i < STRATA_MAX_LEVELS; ++i) bytes.append(r.bytesSent[i]);
  py::dict d;
  d["nranks"] = r.nranks;
  d["num_levels"] = r.numLevels;
  d["sim_time_us"] = r.simTimeUs;
  d["min_rank_time_us"] = r.minRankTimeUs;
  d["bytes_sent"] = bytes;
  d["syncs"] = r.syncs;
  d["steps"] = r.steps;
  d["algo"] = std::string(r.algo);
  return d;
}

int topologyRankCount(std::optional<std::string> topology) {
  int n = 0;
  check(strataTopoGetRankCount(topology ? topology->c_str() : nullptr, &n),
        "strataTopoGetRankCount");
  return n;
}

}  // namespace

PYBIND11_MODULE(_strata, m) {
  m.doc() = "Strata's C API (include/strata/strata.h) for Python.";
  registerErrorTranslator();

  py::enum_<strataResult_t>(m, "Result", "Status codes (strataResult_t).")
      .value("Success", strataSuccess)
      .value("SystemError", strataSystemError)
      .value("InternalError", strataInternalError)
      .value("InvalidArgument", strataInvalidArgument)
      .value("InvalidUsage", strataInvalidUsage)
      .value("RemoteError", strataRemoteError)
      .value("InProgress", strataInProgress)
      .value("Timeout", strataTimeout);

  py::enum_<strataDataType_t> types(m, "DataType", "Element types (strataDataType_t).");
  for (int t = 0; t < strataNumTypes; ++t) {
    auto dtype = static_cast<strataDataType_t>(t);
    types.value(dataTypeName(dtype), dtype);
  }

  py::enum_<strataRedOp_t>(m, "RedOp", "Reduction operators (strataRedOp_t).")
      .value("sum", strataSum)
      .value("prod", strataProd)
      .value("max", strataMax)
      .value("min", strataMin)
      .value("avg", strataAvg);

  py::enum_<strataQuant_t>(m, "Quant", "Low-bit formats of the quantised AllGather (strataQuant_t).")
      .value("int8", strataQuantInt8)
      .value("int4", strataQuantInt4)
      .value("fp8e4m3", strataQuantFp8e4m3);

  bindStream(m);
  bindComm(m);
  bindMoe(m);
  bindWindows(m);

  m.def("get_unique_id", &uniqueId,
        "A new rendezvous point (strataGetUniqueId) as 128 bytes, to hand to every rank. It holds "
        "the root's address and the secret its connections must prove: share it only with the "
        "job's ranks.");
  m.def("version", &version, "The loaded library's version as MAJOR*10000 + MINOR*100 + PATCH.");
  m.def(
      "error_string", [](strataResult_t r) { return std::string(strataGetErrorString(r)); },
      py::arg("result"));
  m.def("group_start", &GroupState::start,
        "Starts a group (strataGroupStart); prefer the strata.group() context manager.");
  m.def("group_end", &GroupState::end, "Ends a group and runs or queues its calls.");
  m.def("sim_timing_only", &simTimingOnly, py::arg("collective"), py::arg("count"),
        py::arg("dtype") = "float32", py::arg("op") = "sum", py::arg("root") = 0,
        py::arg("in_place") = false, py::arg("config") = py::none(),
        "Timing-only simulation of one collective on a topology (strataSimTimingOnly) as a dict.");
  m.def(
      "quant_value_bytes",
      [](py::handle quant, long long count) {
        if (count < 0) invalidArgument("quant_value_bytes: count must be >= 0");
        return strataQuantValueBytes(quantFrom(quant), static_cast<size_t>(count));
      },
      py::arg("quant"), py::arg("count"),
      "Bytes of count values of one rank in a low-bit format (strataQuantValueBytes): count for "
      "int8 and fp8, ceil(count / 2) for int4.");
  m.def("topology_rank_count", &topologyRankCount, py::arg("topology") = py::none(),
        "Ranks of a topology preset or JSON file (strataTopoGetRankCount).");
}
