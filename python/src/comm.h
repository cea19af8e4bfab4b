// strata.Comm and strata.Config: a communicator over the C API, its life cycle, and its
// collectives on buffer-protocol objects and torch tensors.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "buffer_arg.h"
#include "strata/strata.h"
#include "stream.h"

namespace strata::python {

// Communicator options; unset fields take the environment's value or the default.
struct Config {
  std::optional<bool> blocking;
  std::optional<int> timeoutMs;
  std::optional<std::string> commName, transport, topoFile, algo, reducePrecision;

  // Points into this object's strings: keep it alive while the library reads the result.
  strataConfig_t toC() const;

  static Config from(pybind11::handle obj);  // a Config, or a dict of its keyword arguments
};

// A config argument (None, a Config, or a dict of Config's keyword arguments) as the C API
// takes it: NULL for None.
class ConfigArg {
 public:
  explicit ConfigArg(pybind11::handle obj);
  ConfigArg(const ConfigArg&) = delete;  // c_ points into fields_'s strings
  ConfigArg& operator=(const ConfigArg&) = delete;

  strataConfig_t* get() { return fields_ ? &c_ : nullptr; }

 private:
  std::optional<Config> fields_;
  strataConfig_t c_ = STRATA_CONFIG_INITIALIZER;
};

// Owns a strataComm_t; shared by the Comm and the requests of its queued calls, so a request
// can still read the communicator's last error.
class CommHandle {
 public:
  explicit CommHandle(strataComm_t comm) : comm_(comm) {}
  ~CommHandle();
  CommHandle(const CommHandle&) = delete;
  CommHandle& operator=(const CommHandle&) = delete;

  // The live handle; InvalidUsageError naming op once destroyed or aborted.
  strataComm_t get(const char* op) const;
  // Gives up ownership (destroy, abort); the handle is dead afterwards.
  strataComm_t release();
  bool alive() const { return comm_ != nullptr; }
  std::string lastError() const;

 private:
  strataComm_t comm_;
};

class Comm {
 public:
  explicit Comm(strataComm_t comm) : handle_(std::make_shared<CommHandle>(comm)) {}

  bool alive() const { return handle_->alive(); }
  // The owned handle, for objects that call the library on this communicator (MoeBuffer).
  const std::shared_ptr<CommHandle>& sharedHandle() const { return handle_; }
  int rank() const;
  int size() const;
  std::string lastError() const { return handle_->lastError(); }
  strataResult_t asyncError() const;
  pybind11::dict stats() const;
  std::shared_ptr<Comm> split(pybind11::handle color, pybind11::handle key,
                              pybind11::handle config);
  std::shared_ptr<Comm> shrink(const std::vector<int>& exclude, bool abort,
                               pybind11::handle config);
  void finalize();
  void destroy();
  void abort();

  pybind11::object allReduce(pybind11::handle sendbuf, pybind11::handle recvbuf,
                             pybind11::handle op, pybind11::handle dtype,
                             const std::shared_ptr<StreamState>& stream);
  pybind11::object broadcast(pybind11::handle sendbuf, pybind11::handle recvbuf, int root,
                             pybind11::handle dtype, const std::shared_ptr<StreamState>& stream);
  pybind11::object bcast(pybind11::handle buf, int root, pybind11::handle dtype,
                         const std::shared_ptr<StreamState>& stream);
  pybind11::object reduce(pybind11::handle sendbuf, pybind11::handle recvbuf, pybind11::handle op,
                          int root, pybind11::handle dtype,
                          const std::shared_ptr<StreamState>& stream);
  pybind11::object gather(pybind11::handle sendbuf, pybind11::handle recvbuf, int root,
                          pybind11::handle dtype, const std::shared_ptr<StreamState>& stream);
  pybind11::object scatter(pybind11::handle sendbuf, pybind11::handle recvbuf, int root,
                           pybind11::handle dtype, const std::shared_ptr<StreamState>& stream);
  pybind11::object allGather(pybind11::handle sendbuf, pybind11::handle recvbuf,
                             pybind11::handle dtype, const std::shared_ptr<StreamState>& stream);
  pybind11::object allGatherV(pybind11::handle sendbuf, pybind11::handle recvbuf,
                              pybind11::handle recvCounts, pybind11::handle recvDispls,
                              pybind11::handle dtype, const std::shared_ptr<StreamState>& stream);
  pybind11::object reduceScatter(pybind11::handle sendbuf, pybind11::handle recvbuf,
                                 pybind11::handle op, pybind11::handle dtype,
                                 const std::shared_ptr<StreamState>& stream);
  pybind11::object allToAll(pybind11::handle sendbuf, pybind11::handle recvbuf,
                            pybind11::handle dtype, const std::shared_ptr<StreamState>& stream);
  pybind11::object allToAllV(pybind11::handle sendbuf, pybind11::handle sendCounts,
                             pybind11::handle recvbuf, pybind11::handle recvCounts,
                             pybind11::handle sendDispls, pybind11::handle recvDispls,
                             pybind11::handle dtype, const std::shared_ptr<StreamState>& stream);
  pybind11::object send(pybind11::handle buf, int peer, pybind11::handle dtype,
                        const std::shared_ptr<StreamState>& stream);
  pybind11::object recv(pybind11::handle buf, int peer, pybind11::handle dtype,
                        const std::shared_ptr<StreamState>& stream);
  pybind11::object barrier(const std::shared_ptr<StreamState>& stream);
  void simCompute(double microseconds, const std::shared_ptr<StreamState>& stream);
  // strataRedOpCreatePreMulSum: scalar is a number (residence "host") or a one-element buffer
  // (either residence; "device" keeps it and reads it when each call runs).
  PreMulSumOp redOpCreatePreMulSum(pybind11::handle scalar, pybind11::handle dtype,
                                   pybind11::handle residence);
  void redOpDestroy(const PreMulSumOp& op);
  pybind11::object allGatherQuantized(pybind11::handle sendbuf, pybind11::handle recvbuf,
                                      pybind11::handle quant, long long block,
                                      pybind11::handle dtype,
                                      const std::shared_ptr<StreamState>& stream);
  pybind11::object allGatherQuantizedRaw(pybind11::handle sendbuf, pybind11::handle values,
                                         pybind11::handle scales, pybind11::handle quant,
                                         long long block, pybind11::handle dtype,
                                         const std::shared_ptr<StreamState>& stream);
  pybind11::object allGatherQuantizedRawPrequantized(
      pybind11::handle sendValues, pybind11::handle sendScales, pybind11::handle values,
      pybind11::handle scales, pybind11::handle quant, long long block, pybind11::handle count,
      const std::shared_ptr<StreamState>& stream);
  pybind11::object allReduceFused(pybind11::handle sendbuf, pybind11::handle recvbuf,
                                  pybind11::handle epilogue, pybind11::handle op, long long row,
                                  pybind11::handle quant, pybind11::handle dtype);

  // The handle shared with requests and windows.
  const std::shared_ptr<CommHandle>& handle() const { return handle_; }

 private:
  // Runs call(comm, stream) without the GIL: to completion when stream is None, else queued,
  // returning a Request. buffers stay referenced while the library may still use them.
  template <class Call>
  pybind11::object launch(const char* what, std::vector<BufferArg> buffers,
                          const std::shared_ptr<StreamState>& stream, Call&& call);

  std::shared_ptr<CommHandle> handle_;
  mutable int rank_ = -1, size_ = 0;  // cached once known (a nonblocking init may still run)
};

void bindComm(pybind11::module_& m);

// The low-bit format named "int8", "int4" or "fp8" (also "fp8e4m3"), or a strata.Quant.
strataQuant_t quantFrom(pybind11::handle quant);

}  // namespace strata::python
