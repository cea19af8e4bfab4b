#include "comm.h"

#include <pybind11/stl.h>

#include <array>
#include <cstring>
#include <optional>

#include "errors.h"
#include "reduce/float_formats.h"  // header only: the narrow float formats' rounding
#include "without_gil.h"

namespace py = pybind11;

namespace strata::python {

namespace {

std::optional<strataDataType_t> dtypeOverride(py::handle dtype) {
  if (dtype.is_none()) return std::nullopt;
  return dataTypeFrom(dtype, "dtype");
}

bool sameObject(py::handle a, py::handle b) { return b.is_none() || a.is(b); }

struct BufferPair {
  BufferArg send, recv;
};

// A call's sendbuf and recvbuf, of one element type. recvbuf None (or sendbuf itself) means in
// place, with sendbuf accessed as inPlace says (written, or only read on this rank).
BufferPair viewPair(const char* op, py::handle sendbuf, py::handle recvbuf, py::handle dtype,
                    Access inPlace = Access::kWrite) {
  std::optional<strataDataType_t> dt = dtypeOverride(dtype);
  bool same = sameObject(sendbuf, recvbuf);
  BufferArg send = BufferArg::view(sendbuf, op, "sendbuf", same ? inPlace : Access::kRead, dt);
  if (same) return {send, send};
  BufferArg recv = BufferArg::view(recvbuf, op, "recvbuf", Access::kWrite, dt);
  if (send.dtype() != recv.dtype())
    invalidArgument(std::string(op) + ": recvbuf holds " + dataTypeName(recv.dtype()) +
                    " but sendbuf holds " + dataTypeName(send.dtype()) +
                    "; they must match (or pass dtype=)");
  return {send, recv};
}

// `need` explains where the expected count comes from, e.g. "nranks 4 x sendbuf's 16".
void expectCount(const char* op, const BufferArg& buf, size_t want, const std::string& need) {
  if (buf.count() != want)
    invalidArgument(std::string(op) + ": " + buf.name() + " holds " + std::to_string(buf.count()) +
                    " " + dataTypeName(buf.dtype()) + " elements; it must hold " +
                    std::to_string(want) + " (" + need + ")");
}

std::vector<size_t> countsFrom(py::handle obj, const char* op, const char* name, int nranks) {
  std::vector<long long> values;
  try {
    values = obj.cast<std::vector<long long>>();
  } catch (const py::cast_error&) {
    invalidArgument(std::string(op) + ": " + name + " must be a sequence of " +
                    std::to_string(nranks) + " integers");
  }
  if (values.size() != static_cast<size_t>(nranks))
    invalidArgument(std::string(op) + ": " + name + " has " + std::to_string(values.size()) +
                    " entries; it needs one per rank (" + std::to_string(nranks) + ")");
  std::vector<size_t> counts;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0)
      invalidArgument(std::string(op) + ": " + name + "[" + std::to_string(i) + "] is " +
                      std::to_string(values[i]) + ", must be >= 0");
    counts.push_back(static_cast<size_t>(values[i]));
  }
  return counts;
}

// Displacements given, or packed blocks (exclusive prefix sums of counts) when None; every
// block must lie inside buf.
std::vector<size_t> displsFor(py::handle displs, const std::vector<size_t>& counts,
                              const BufferArg& buf, const char* op, const char* countsName,
                              const char* displsName) {
  std::vector<size_t> out;
  if (displs.is_none()) {
    size_t offset = 0;
    for (size_t c : counts) {
      out.push_back(offset);
      offset += c;
    }
  } else {
    out = countsFrom(displs, op, displsName, static_cast<int>(counts.size()));
  }
  for (size_t i = 0; i < counts.size(); ++i) {
    if (out[i] + counts[i] > buf.count())
      invalidArgument(std::string(op) + ": block " + std::to_string(i) + " (" + displsName + " " +
                      std::to_string(out[i]) + " + " + countsName + " " +
                      std::to_string(counts[i]) + ") ends beyond " + buf.name() + "'s " +
                      std::to_string(buf.count()) + " elements");
  }
  return out;
}

std::string rankCount(int n, const char* what, size_t count) {
  return "nranks " + std::to_string(n) + " x " + what + "'s " + std::to_string(count);
}

py::dict opStatsDict(const strataOpStats_t& s, int levels) {
  py::list bytes;
  for (int i = 0; i < levels && i < STRATA_MAX_LEVELS; ++i) bytes.append(s.bytesSent[i]);
  py::dict d;
  d["sim_time_us"] = s.simTimeUs;
  d["bytes_sent"] = bytes;
  d["syncs"] = s.syncs;
  d["steps"] = s.steps;
  d["ops"] = s.ops;
  d["call_bytes"] = s.callBytes;
  return d;
}

// blockElems as the C API takes it; 0 goes through, for the library's own message.
size_t blockFrom(const char* op, long long block) {
  if (block < 0)
    invalidArgument(std::string(op) + ": block is " + std::to_string(block) + ", must be >= 1");
  return static_cast<size_t>(block);
}

size_t blocksOf(size_t count, size_t block) { return block == 0 ? 0 : (count + block - 1) / block; }

std::shared_ptr<Comm> initRank(int nranks, const std::string& uniqueId, int rank,
                               py::handle config) {
  if (uniqueId.size() != sizeof(strataUniqueId))
    invalidArgument("Comm: unique_id holds " + std::to_string(uniqueId.size()) +
                    " bytes; a Strata unique id has " + std::to_string(sizeof(strataUniqueId)) +
                    " (from strata.get_unique_id())");
  strataUniqueId id;
  std::memcpy(id.internal, uniqueId.data(), sizeof id.internal);
  ConfigArg cfg(config);
  strataComm_t comm = nullptr;
  check(withoutGil([&] { return strataCommInitRankConfig(&comm, nranks, id, rank, cfg.get()); }),
        "strataCommInitRankConfig", nullptr, strataInProgress);
  return std::make_shared<Comm>(comm);
}

std::shared_ptr<Comm> initFromEnv(py::handle config) {
  ConfigArg cfg(config);
  strataComm_t comm = nullptr;
  check(withoutGil([&] { return strataCommInitFromEnv(&comm, cfg.get()); }),
        "strataCommInitFromEnv", nullptr, strataInProgress);
  return std::make_shared<Comm>(comm);
}

std::vector<std::shared_ptr<Comm>> initAll(int nranks, py::handle config) {
  if (nranks < 1)
    invalidArgument("Comm.init_all: nranks is " + std::to_string(nranks) + ", must be >= 1");
  ConfigArg cfg(config);
  std::vector<strataComm_t> comms(static_cast<size_t>(nranks));
  check(withoutGil([&] { return strataCommInitAll(comms.data(), nranks, cfg.get()); }),
        "strataCommInitAll");
  std::vector<std::shared_ptr<Comm>> out;
  for (strataComm_t comm : comms) out.push_back(std::make_shared<Comm>(comm));
  return out;
}

}  // namespace

strataConfig_t Config::toC() const {
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  if (blocking) c.blocking = *blocking ? 1 : 0;
  if (timeoutMs) c.timeoutMs = *timeoutMs;
  if (commName) c.commName = commName->c_str();
  if (transport) c.transport = transport->c_str();
  if (topoFile) c.topoFile = topoFile->c_str();
  if (algo) c.algo = algo->c_str();
  if (reducePrecision) c.reducePrecision = reducePrecision->c_str();
  return c;
}

Config Config::from(py::handle obj) {
  if (py::isinstance<Config>(obj)) return obj.cast<Config>();
  if (py::isinstance<py::dict>(obj))
    return py::type::of<Config>()(**py::reinterpret_borrow<py::dict>(obj)).cast<Config>();
  invalidArgument("config must be a strata.Config, a dict of its fields, or None");
}

ConfigArg::ConfigArg(py::handle obj) {
  if (obj.is_none()) return;
  fields_ = Config::from(obj);
  c_ = fields_->toC();
}

CommHandle::~CommHandle() {
  if (!comm_) return;
  withoutGil([&] { return strataCommDestroy(comm_); });
}

strataComm_t CommHandle::get(const char* op) const {
  if (!comm_) invalidUsage(std::string(op) + ": the communicator was destroyed or aborted");
  return comm_;
}

strataComm_t CommHandle::release() {
  strataComm_t c = comm_;
  comm_ = nullptr;
  return c;
}

std::string CommHandle::lastError() const { return comm_ ? strataGetLastError(comm_) : ""; }

int Comm::rank() const {
  if (rank_ < 0) {
    strataComm_t c = handle_->get("rank");
    check(strataCommUserRank(c, &rank_), "strataCommUserRank", c);
  }
  return rank_;
}

int Comm::size() const {
  if (size_ == 0) {
    strataComm_t c = handle_->get("size");
    check(strataCommCount(c, &size_), "strataCommCount", c);
  }
  return size_;
}

strataResult_t Comm::asyncError() const {
  strataComm_t c = handle_->get("async_error");
  strataResult_t state = strataSuccess;
  check(strataCommGetAsyncError(c, &state), "strataCommGetAsyncError", c);
  return state;
}

py::dict Comm::stats() const {
  strataComm_t c = handle_->get("stats");
  strataStats_t s{};
  check(strataCommGetStats(c, &s), "strataCommGetStats", c);
  py::dict d;
  d["num_levels"] = s.numLevels;
  d["sim_clock_us"] = s.simClockUs;
  d["last"] = opStatsDict(s.last, s.numLevels);
  d["total"] = opStatsDict(s.total, s.numLevels);
  d["last_algo"] = std::string(s.lastAlgo);
  d["last_algo_source"] = std::string(s.lastAlgoSource);
  return d;
}

std::shared_ptr<Comm> Comm::split(py::handle color, py::handle key, py::handle config) {
  strataComm_t c = handle_->get("split");
  int colorValue = color.is_none() ? STRATA_SPLIT_NOCOLOR : color.cast<int>();
  int keyValue = key.is_none() ? rank() : key.cast<int>();
  ConfigArg cfg(config);
  strataComm_t out = nullptr;
  check(withoutGil([&] { return strataCommSplit(c, colorValue, keyValue, &out, cfg.get()); }),
        "strataCommSplit", c, strataInProgress);
  return out ? std::make_shared<Comm>(out) : nullptr;
}

std::shared_ptr<Comm> Comm::shrink(const std::vector<int>& exclude, bool abort,
                                   py::handle config) {
  strataComm_t c = handle_->get("shrink");
  ConfigArg cfg(config);
  const int flags = abort ? STRATA_SHRINK_ABORT : STRATA_SHRINK_DEFAULT;
  strataComm_t out = nullptr;
  check(withoutGil([&] {
          return strataCommShrink(c, exclude.data(), static_cast<int>(exclude.size()), &out,
                                  cfg.get(), flags);
        }),
        "strataCommShrink", c, strataInProgress);
  return std::make_shared<Comm>(out);
}

void Comm::finalize() {
  strataComm_t c = handle_->get("finalize");
  check(withoutGil([&] { return strataCommFinalize(c); }), "strataCommFinalize", c);
}

void Comm::destroy() {
  strataComm_t c = handle_->release();
  if (!c) return;
  check(withoutGil([&] { return strataCommDestroy(c); }), "strataCommDestroy");
}

void Comm::abort() {
  strataComm_t c = handle_->release();
  if (!c) return;
  check(withoutGil([&] { return strataCommAbort(c); }), "strataCommAbort");
}

template <class Call>
py::object Comm::launch(const char* what, std::vector<BufferArg> buffers,
                        const std::shared_ptr<StreamState>& stream, Call&& call) {
  strataComm_t c = handle_->get(what);
  strataStream_t s = stream ? stream->handle(what) : nullptr;
  check(withoutGil([&] { return call(c, s); }), what, c);
  std::shared_ptr<Request> request;
  if (stream) request = std::make_shared<Request>(stream, handle_);
  if (GroupState::active()) {
    GroupState::defer(std::move(buffers), stream, request);
  } else if (stream) {
    request->setTicket(stream->issue(std::move(buffers)));
  }
  if (!request) return py::none();
  return py::cast(request);
}

py::object Comm::allReduce(py::handle sendbuf, py::handle recvbuf, py::handle op, py::handle dtype,
                           const std::shared_ptr<StreamState>& stream) {
  const char* name = "all_reduce";
  strataRedOp_t red = redOpFrom(op);
  auto [send, recv] = viewPair(name, sendbuf, recvbuf, dtype);
  expectCount(name, recv, send.count(), "the size of sendbuf");
  return launch("strataAllReduce", {send, recv}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataAllReduce(send.data(), recv.data(), send.count(), send.dtype(), red, c, s);
  });
}

py::object Comm::broadcast(py::handle sendbuf, py::handle recvbuf, int root, py::handle dtype,
                           const std::shared_ptr<StreamState>& stream) {
  const char* name = "broadcast";
  auto [send, recv] =
      viewPair(name, sendbuf, recvbuf, dtype, rank() == root ? Access::kRead : Access::kWrite);
  expectCount(name, recv, send.count(), "the size of sendbuf");
  return launch("strataBroadcast", {send, recv}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataBroadcast(send.data(), recv.data(), send.count(), send.dtype(), root, c, s);
  });
}

py::object Comm::bcast(py::handle buf, int root, py::handle dtype,
                       const std::shared_ptr<StreamState>& stream) {
  BufferArg b = BufferArg::view(buf, "bcast", "buf", rank() == root ? Access::kRead : Access::kWrite,
                                dtypeOverride(dtype));
  return launch("strataBcast", {b}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataBcast(b.data(), b.count(), b.dtype(), root, c, s);
  });
}

py::object Comm::reduce(py::handle sendbuf, py::handle recvbuf, py::handle op, int root,
                        py::handle dtype, const std::shared_ptr<StreamState>& stream) {
  const char* name = "reduce";
  strataRedOp_t red = redOpFrom(op);
  bool isRoot = rank() == root;
  auto [send, recv] =
      viewPair(name, sendbuf, recvbuf, dtype, isRoot ? Access::kWrite : Access::kRead);
  if (isRoot) expectCount(name, recv, send.count(), "the size of sendbuf");
  return launch("strataReduce", {send, recv}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataReduce(send.data(), recv.data(), send.count(), send.dtype(), red, root, c, s);
  });
}

py::object Comm::gather(py::handle sendbuf, py::handle recvbuf, int root, py::handle dtype,
                        const std::shared_ptr<StreamState>& stream) {
  const char* name = "gather";
  if (rank() != root) {  // recvbuf is the root's only
    BufferArg send = BufferArg::view(sendbuf, name, "sendbuf", Access::kRead, dtypeOverride(dtype));
    return launch("strataGather", {send}, stream, [&](strataComm_t c, strataStream_t s) {
      return strataGather(send.data(), nullptr, send.count(), send.dtype(), root, c, s);
    });
  }
  if (recvbuf.is_none()) invalidArgument(std::string(name) + ": recvbuf is required on the root");
  auto [send, recv] = viewPair(name, sendbuf, recvbuf, dtype);
  expectCount(name, recv, size() * send.count(), rankCount(size(), "sendbuf", send.count()));
  return launch("strataGather", {send, recv}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataGather(send.data(), recv.data(), send.count(), send.dtype(), root, c, s);
  });
}

py::object Comm::scatter(py::handle sendbuf, py::handle recvbuf, int root, py::handle dtype,
                         const std::shared_ptr<StreamState>& stream) {
  const char* name = "scatter";
  if (rank() != root) {  // sendbuf is the root's only
    BufferArg recv = BufferArg::view(recvbuf, name, "recvbuf", Access::kWrite, dtypeOverride(dtype));
    return launch("strataScatter", {recv}, stream, [&](strataComm_t c, strataStream_t s) {
      return strataScatter(nullptr, recv.data(), recv.count(), recv.dtype(), root, c, s);
    });
  }
  if (sendbuf.is_none()) invalidArgument(std::string(name) + ": sendbuf is required on the root");
  auto [send, recv] = viewPair(name, sendbuf, recvbuf, dtype);
  expectCount(name, send, size() * recv.count(), rankCount(size(), "recvbuf", recv.count()));
  return launch("strataScatter", {send, recv}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataScatter(send.data(), recv.data(), recv.count(), recv.dtype(), root, c, s);
  });
}

py::object Comm::allGather(py::handle sendbuf, py::handle recvbuf, py::handle dtype,
                           const std::shared_ptr<StreamState>& stream) {
  const char* name = "all_gather";
  auto [send, recv] = viewPair(name, sendbuf, recvbuf, dtype);
  expectCount(name, recv, size() * send.count(), rankCount(size(), "sendbuf", send.count()));
  return launch("strataAllGather", {send, recv}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataAllGather(send.data(), recv.data(), send.count(), send.dtype(), c, s);
  });
}

py::object Comm::allGatherV(py::handle sendbuf, py::handle recvbuf, py::handle recvCounts,
                            py::handle recvDispls, py::handle dtype,
                            const std::shared_ptr<StreamState>& stream) {
  const char* name = "all_gather_v";
  auto [send, recv] = viewPair(name, sendbuf, recvbuf, dtype);
  std::vector<size_t> counts = countsFrom(recvCounts, name, "recv_counts", size());
  std::vector<size_t> displs =
      displsFor(recvDispls, counts, recv, name, "recv_counts", "recv_displs");
  if (counts[static_cast<size_t>(rank())] != send.count())
    invalidArgument(std::string(name) + ": recv_counts[" + std::to_string(rank()) + "] is " +
                    std::to_string(counts[static_cast<size_t>(rank())]) +
                    " but this rank's sendbuf holds " + std::to_string(send.count()));
  return launch("strataAllGatherv", {send, recv}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataAllGatherv(send.data(), send.count(), recv.data(), counts.data(), displs.data(),
                            send.dtype(), c, s);
  });
}

py::object Comm::reduceScatter(py::handle sendbuf, py::handle recvbuf, py::handle op,
                               py::handle dtype, const std::shared_ptr<StreamState>& stream) {
  const char* name = "reduce_scatter";
  strataRedOp_t red = redOpFrom(op);
  auto [send, recv] = viewPair(name, sendbuf, recvbuf, dtype);
  expectCount(name, send, size() * recv.count(), rankCount(size(), "recvbuf", recv.count()));
  return launch("strataReduceScatter", {send, recv}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataReduceScatter(send.data(), recv.data(), recv.count(), send.dtype(), red, c, s);
  });
}

py::object Comm::allToAll(py::handle sendbuf, py::handle recvbuf, py::handle dtype,
                          const std::shared_ptr<StreamState>& stream) {
  const char* name = "all_to_all";
  auto [send, recv] = viewPair(name, sendbuf, recvbuf, dtype);
  expectCount(name, recv, send.count(), "the size of sendbuf");
  size_t n = static_cast<size_t>(size());
  if (send.count() % n != 0)
    invalidArgument(std::string(name) + ": sendbuf holds " + std::to_string(send.count()) +
                    " elements, not a multiple of nranks " + std::to_string(n));
  return launch("strataAllToAll", {send, recv}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataAllToAll(send.data(), recv.data(), send.count() / n, send.dtype(), c, s);
  });
}

py::object Comm::allToAllV(py::handle sendbuf, py::handle sendCounts, py::handle recvbuf,
                           py::handle recvCounts, py::handle sendDispls, py::handle recvDispls,
                           py::handle dtype, const std::shared_ptr<StreamState>& stream) {
  const char* name = "all_to_all_v";
  auto [send, recv] = viewPair(name, sendbuf, recvbuf, dtype);
  std::vector<size_t> sc = countsFrom(sendCounts, name, "send_counts", size());
  std::vector<size_t> rc = countsFrom(recvCounts, name, "recv_counts", size());
  std::vector<size_t> sd = displsFor(sendDispls, sc, send, name, "send_counts", "send_displs");
  std::vector<size_t> rd = displsFor(recvDispls, rc, recv, name, "recv_counts", "recv_displs");
  return launch("strataAllToAllv", {send, recv}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataAllToAllv(send.data(), sc.data(), sd.data(), recv.data(), rc.data(), rd.data(),
                           send.dtype(), c, s);
  });
}

py::object Comm::send(py::handle buf, int peer, py::handle dtype,
                      const std::shared_ptr<StreamState>& stream) {
  BufferArg b = BufferArg::view(buf, "send", "buf", Access::kRead, dtypeOverride(dtype));
  return launch("strataSend", {b}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataSend(b.data(), b.count(), b.dtype(), peer, c, s);
  });
}

py::object Comm::recv(py::handle buf, int peer, py::handle dtype,
                      const std::shared_ptr<StreamState>& stream) {
  BufferArg b = BufferArg::view(buf, "recv", "buf", Access::kWrite, dtypeOverride(dtype));
  return launch("strataRecv", {b}, stream, [&](strataComm_t c, strataStream_t s) {
    return strataRecv(b.data(), b.count(), b.dtype(), peer, c, s);
  });
}

py::object Comm::barrier(const std::shared_ptr<StreamState>& stream) {
  return launch("strataBarrier", {}, stream,
                [](strataComm_t c, strataStream_t s) { return strataBarrier(c, s); });
}

namespace {

strataScalarResidence_t residenceFrom(py::handle residence) {
  if (py::isinstance<strataScalarResidence_t>(residence))
    return residence.cast<strataScalarResidence_t>();
  const std::string text = py::str(residence);
  if (text == "host" || text == "host_immediate") return strataScalarHostImmediate;
  if (text == "device") return strataScalarDevice;
  invalidArgument("redop_create_premul_sum: residence '" + text +
                  "' is neither 'host' (read now) nor 'device' (read when each call runs)");
}

// A Python number as one element of t, rounded to nearest even for the narrow float types.
std::array<unsigned char, 8> scalarBytes(py::handle number, strataDataType_t t) {
  std::array<unsigned char, 8> b{};
  auto put = [&](auto v) { std::memcpy(b.data(), &v, sizeof v); };
  const bool isInteger = t == strataInt8 || t == strataUint8 || t == strataInt32 ||
                         t == strataUint32 || t == strataInt64 || t == strataUint64;
  if (isInteger) {
    if (!py::isinstance<py::int_>(number))
      invalidArgument("redop_create_premul_sum: scalar " + std::string(py::str(number)) +
                      " is not an integer, but dtype is " + dataTypeName(t));
    const py::int_ i = py::reinterpret_borrow<py::int_>(number);
    // Wraps to the type's width, as C's conversions to unsigned types do.
    const unsigned long long v = PyLong_AsUnsignedLongLongMask(i.ptr());
    std::memcpy(b.data(), &v, dataTypeSize(t));  // little-endian: the low bytes
    return b;
  }
  const double v = number.cast<double>();
  switch (t) {
    case strataFloat64: put(v); break;
    case strataFloat32: put(static_cast<float>(v)); break;
    case strataFloat16: put(floatToHalf(static_cast<float>(v))); break;
    case strataBfloat16: put(floatToBf16(static_cast<float>(v))); break;
    case strataFloat8e4m3: put(floatToFp8e4m3(static_cast<float>(v))); break;
    case strataFloat8e5m2: put(floatToFp8e5m2(static_cast<float>(v))); break;
    default: break;
  }
  return b;
}

}  // namespace

PreMulSumOp Comm::redOpCreatePreMulSum(py::handle scalar, py::handle dtype,
                                       py::handle residence) {
  const char* name = "redop_create_premul_sum";
  strataComm_t c = handle_->get(name);
  PreMulSumOp op;
  op.residence = residenceFrom(residence);
  const bool number = py::isinstance<py::int_>(scalar) || py::isinstance<py::float_>(scalar);
  std::array<unsigned char, 8> value{};
  void* ptr = nullptr;
  if (number) {
    if (op.residence == strataScalarDevice)
      invalidArgument(std::string(name) +
                      ": a device scalar is a one-element buffer the caller may change (e.g. "
                      "numpy.array([2.0], dtype=numpy.float32)), not a number");
    op.dtype = dtype.is_none() ? strataFloat32 : dataTypeFrom(dtype, "dtype");
    value = scalarBytes(scalar, op.dtype);
    ptr = value.data();
  } else {
    BufferArg b = BufferArg::view(scalar, name, "scalar", Access::kRead, dtypeOverride(dtype));
    if (b.count() != 1)
      invalidArgument(std::string(name) + ": scalar holds " + std::to_string(b.count()) +
                      " elements of " + dataTypeName(b.dtype()) + ", not one");
    op.dtype = b.dtype();
    ptr = b.data();
    if (op.residence == strataScalarDevice) op.device = std::move(b);
  }
  check(strataRedOpCreatePreMulSum(&op.op, ptr, op.dtype, op.residence, c),
        "strataRedOpCreatePreMulSum", c);
  return op;
}

void Comm::redOpDestroy(const PreMulSumOp& op) {
  strataComm_t c = handle_->get("redop_destroy");
  check(strataRedOpDestroy(op.op, c), "strataRedOpDestroy", c);
}

void Comm::simCompute(double microseconds, const std::shared_ptr<StreamState>& stream) {
  strataComm_t c = handle_->get("sim_compute");
  strataStream_t s = stream ? stream->handle("sim_compute") : nullptr;
  check(strataSimCompute(c, s, microseconds), "strataSimCompute", c);
}

py::object Comm::allGatherQuantized(py::handle sendbuf, py::handle recvbuf, py::handle quant,
                                    long long block, py::handle dtype,
                                    const std::shared_ptr<StreamState>& stream) {
  const char* name = "all_gather_quantized";
  const strataQuant_t q = quantFrom(quant);
  const size_t b = blockFrom(name, block);
  auto [send, recv] = viewPair(name, sendbuf, recvbuf, dtype);
  expectCount(name, recv, size() * send.count(), rankCount(size(), "sendbuf", send.count()));
  return launch("strataAllGatherQuantized", {send, recv}, stream,
                [&](strataComm_t c, strataStream_t s) {
                  return strataAllGatherQuantized(send.data(), recv.data(), send.count(),
                                                  send.dtype(), q, b, c, s);
                });
}

namespace {

// A Python epilogue behind the C callback: called with the GIL taken, as epilogue(offset,
// count); the first exception it raises stops further calls and is raised by the call.
struct PyEpilogue {
  py::object fn;
  std::optional<py::error_already_set> error;

  static void call(void*, size_t offset, size_t count, strataDataType_t, void* user) {
    auto* self = static_cast<PyEpilogue*>(user);
    py::gil_scoped_acquire gil;
    if (self->error) return;
    try {
      self->fn(offset, count);
    } catch (py::error_already_set& e) {
      self->error.emplace(std::move(e));
    }
  }
};

}  // namespace

py::object Comm::allReduceFused(py::handle sendbuf, py::handle recvbuf, py::handle epilogue,
                                py::handle op, long long row, py::handle quant,
                                py::handle dtype) {
  const char* name = "all_reduce_fused";
  if (!PyCallable_Check(epilogue.ptr()))
    invalidArgument(std::string(name) + ": epilogue must be callable as epilogue(offset, count)");
  if (row < 0)
    invalidArgument(std::string(name) + ": row is " + std::to_string(row) + ", must be >= 0");
  if (GroupState::active())
    invalidUsage(std::string(name) + ": cannot run inside a group (its Python epilogue runs "
                 "during the call)");
  strataRedOp_t red = redOpFrom(op);
  auto [send, recv] = viewPair(name, sendbuf, recvbuf, dtype);
  expectCount(name, recv, send.count(), "the size of sendbuf");
  PyEpilogue state{py::reinterpret_borrow<py::object>(epilogue), std::nullopt};
  strataEpilogue_t epi{};
  epi.fn = &PyEpilogue::call;
  epi.user = &state;
  epi.rowElems = static_cast<size_t>(row);
  if (!quant.is_none()) {
    epi.quantizeGather = 1;
    epi.quant = quantFrom(quant);
  }
  strataComm_t c = handle_->get(name);
  check(withoutGil([&] {
          return strataAllReduceFused(send.data(), recv.data(), send.count(), send.dtype(), red,
                                      &epi, c, nullptr);
        }),
        "strataAllReduceFused", c);
  if (state.error) throw std::move(*state.error);
  return py::none();
}

py::object Comm::allGatherQuantizedRaw(py::handle sendbuf, py::handle values, py::handle scales,
                                       py::handle quant, long long block, py::handle dtype,
                                       const std::shared_ptr<StreamState>& stream) {
  const char* name = "all_gather_quantized_raw";
  const strataQuant_t q = quantFrom(quant);
  const size_t b = blockFrom(name, block);
  BufferArg send = BufferArg::view(sendbuf, name, "sendbuf", Access::kRead, dtypeOverride(dtype));
  BufferArg vals = BufferArg::view(values, name, "values", Access::kWrite, strataUint8);
  BufferArg scl = BufferArg::view(scales, name, "scales", Access::kWrite, strataFloat32);
  const auto n = static_cast<size_t>(size());
  expectCount(name, vals, n * strataQuantValueBytes(q, send.count()),
              "nranks x strata.quant_value_bytes(quant, sendbuf's " + std::to_string(send.count()) +
                  ") bytes");
  if (b > 0)
    expectCount(name, scl, n * blocksOf(send.count(), b),
                "nranks x one scale per block of " + std::to_string(b));
  return launch("strataAllGatherQuantizedRaw", {send, vals, scl}, stream,
                [&](strataComm_t c, strataStream_t s) {
                  return strataAllGatherQuantizedRaw(send.data(), vals.data(),
                                                     static_cast<float*>(scl.data()), send.count(),
                                                     send.dtype(), q, b, c, s);
                });
}

py::object Comm::allGatherQuantizedRawPrequantized(py::handle sendValues, py::handle sendScales,
                                                   py::handle values, py::handle scales,
                                                   py::handle quant, long long block,
                                                   py::handle count,
                                                   const std::shared_ptr<StreamState>& stream) {
  const char* name = "all_gather_quantized_raw_prequantized";
  const strataQuant_t q = quantFrom(quant);
  const size_t b = blockFrom(name, block);
  BufferArg sv = BufferArg::view(sendValues, name, "send_values", Access::kRead, strataUint8);
  BufferArg ss = BufferArg::view(sendScales, name, "send_scales", Access::kRead, strataFloat32);
  BufferArg vals = BufferArg::view(values, name, "values", Access::kWrite, strataUint8);
  BufferArg scl = BufferArg::view(scales, name, "scales", Access::kWrite, strataFloat32);
  // int4 packs two values a byte: the element count is 2 x bytes unless given (an odd count).
  size_t elems = q == strataQuantInt4 ? 2 * sv.count() : sv.count();
  if (!count.is_none()) {
    const long long c = count.cast<long long>();
    if (c < 0)
      invalidArgument(std::string(name) + ": count is " + std::to_string(c) + ", must be >= 0");
    elems = static_cast<size_t>(c);
  }
  const auto n = static_cast<size_t>(size());
  expectCount(name, sv, strataQuantValueBytes(q, elems),
              "strata.quant_value_bytes(quant, " + std::to_string(elems) + ")");
  expectCount(name, vals, n * sv.count(), rankCount(size(), "send_values", sv.count()));
  if (b > 0) {
    expectCount(name, ss, blocksOf(elems, b), "one scale per block of " + std::to_string(b));
    expectCount(name, scl, n * ss.count(), rankCount(size(), "send_scales", ss.count()));
  }
  return launch("strataAllGatherQuantizedRawPrequantized", {sv, ss, vals, scl}, stream,
                [&](strataComm_t c, strataStream_t s) {
                  return strataAllGatherQuantizedRawPrequantized(
                      sv.data(), static_cast<const float*>(ss.data()), vals.data(),
                      static_cast<float*>(scl.data()), elems, q, b, c, s);
                });
}

strataQuant_t quantFrom(py::handle quant) {
  if (py::isinstance<py::str>(quant)) {
    const std::string s = quant.cast<std::string>();
    if (s == "int8") return strataQuantInt8;
    if (s == "int4") return strataQuantInt4;
    if (s == "fp8" || s == "fp8e4m3") return strataQuantFp8e4m3;
  } else {
    try {
      return quant.cast<strataQuant_t>();
    } catch (const py::cast_error&) {
    }
  }
  invalidArgument("quant must be 'int8', 'int4', 'fp8' or a strata.Quant, not " +
                  std::string(py::str(quant)));
}

void bindComm(py::module_& m) {
  py::enum_<strataScalarResidence_t>(m, "ScalarResidence",
                                     "Where a pre-multiplied sum's scalar lives "
                                     "(strataScalarResidence_t).")
      .value("device", strataScalarDevice)
      .value("host_immediate", strataScalarHostImmediate);
  py::class_<PreMulSumOp>(m, "PreMulSumOp", R"doc(
A reduction operator of Comm.redop_create_premul_sum, passed as op= to all_reduce, reduce and
reduce_scatter of the Comm that made it.)doc")
      .def_property_readonly("dtype", [](const PreMulSumOp& o) { return o.dtype; })
      .def_property_readonly("residence", [](const PreMulSumOp& o) { return o.residence; })
      .def("__int__", [](const PreMulSumOp& o) { return static_cast<int>(o.op); })
      .def("__repr__", [](const PreMulSumOp& o) {
        return "<strata.PreMulSumOp " + std::to_string(static_cast<int>(o.op)) + " " +
               dataTypeName(o.dtype) +
               (o.residence == strataScalarDevice ? " device>" : " host>");
      });

  py::class_<Config>(m, "Config", R"doc(
Communicator options (strataConfig_t). Fields left None take the environment's value
(STRATA_TIMEOUT_MS, STRATA_TRANSPORT, ...) or the default.)doc")
      .def(py::init([](std::optional<bool> blocking, std::optional<int> timeout_ms,
                       std::optional<std::string> comm_name, std::optional<std::string> transport,
                       std::optional<std::string> topo_file, std::optional<std::string> algo,
                       std::optional<std::string> reduce_precision) {
             return Config{blocking,  timeout_ms, comm_name,       transport,
                           topo_file, algo,       reduce_precision};
           }),
           py::kw_only(), py::arg("blocking") = py::none(), py::arg("timeout_ms") = py::none(),
           py::arg("comm_name") = py::none(), py::arg("transport") = py::none(),
           py::arg("topo_file") = py::none(), py::arg("algo") = py::none(),
           py::arg("reduce_precision") = py::none())
      .def_readwrite("blocking", &Config::blocking)
      .def_readwrite("timeout_ms", &Config::timeoutMs)
      .def_readwrite("comm_name", &Config::commName)
      .def_readwrite("transport", &Config::transport)
      .def_readwrite("topo_file", &Config::topoFile)
      .def_readwrite("algo", &Config::algo)
      .def_readwrite("reduce_precision", &Config::reducePrecision);

  auto stream = py::arg("stream") = py::none();
  auto dtype = py::arg("dtype") = py::none();
  py::class_<Comm, std::shared_ptr<Comm>>(m, "Comm", R"doc(
One rank's communicator. Collectives take numpy arrays, other buffer-protocol objects or CPU torch
tensors, used in place without copying. Without stream= a call returns once it has completed
(the GIL is released meanwhile); with stream= it is queued and returns a Request.)doc")
      .def(py::init(&initRank), py::arg("nranks"), py::arg("unique_id"), py::arg("rank"),
           py::arg("config") = py::none(),
           "Joins the communicator of nranks ranks identified by unique_id "
           "(strataCommInitRankConfig).")
      .def_static("from_env", &initFromEnv, py::arg("config") = py::none(),
                  "Joins the communicator the launcher describes: strata-run, mpirun, Slurm or "
                  "torchrun (strataCommInitFromEnv).")
      .def_static("init_all", &initAll, py::arg("nranks"), py::arg("config") = py::none(),
                  "Creates all nranks ranks in this process, to be driven from one thread each "
                  "(strataCommInitAll).")
      .def_property_readonly("rank", &Comm::rank)
      .def_property_readonly("size", &Comm::size)
      .def_property_readonly("last_error", &Comm::lastError,
                             "The message of the communicator's last error ('' if none).")
      .def("async_error", &Comm::asyncError,
           "strata.Result.InProgress while a nonblocking init runs, the error of a failed queued "
           "call, or Success.")
      .def("stats", &Comm::stats, "The communicator's statistics (strataCommGetStats) as a dict.")
      .def("split", &Comm::split, py::arg("color"), py::arg("key") = py::none(),
           py::arg("config") = py::none(),
           "Ranks passing the same color form a new Comm, ordered by key (default: rank). "
           "color None joins none and returns None.")
      .def("shrink", &Comm::shrink, py::arg("exclude"), py::arg("abort") = false,
           py::arg("config") = py::none(),
           "The ranks not in exclude form a new Comm, renumbered in old order, over a fresh "
           "bootstrap among them (strataCommShrink). Excluded ranks do not call. abort=True "
           "(STRATA_SHRINK_ABORT) after a rank was lost: this Comm is aborted first.")
      .def("finalize", &Comm::finalize, "Completes queued calls and synchronises with the peers.")
      .def("destroy", &Comm::destroy, "Frees the communicator.")
      .def("abort", &Comm::abort, "Aborts and frees the communicator; peers see RemoteError.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__",
           [](Comm& c, py::handle type, py::handle, py::handle) {
             if (!type.is_none()) return c.abort();
             c.finalize();
             c.destroy();
           })
      .def("__repr__",
           [](const Comm& c) {
             if (!c.alive()) return std::string("<strata.Comm (destroyed)>");
             return "<strata.Comm rank " + std::to_string(c.rank()) + " of " +
                    std::to_string(c.size()) + ">";
           })
      .def("all_reduce", &Comm::allReduce, py::arg("sendbuf"), py::arg("recvbuf") = py::none(),
           py::arg("op") = "sum", py::kw_only(), dtype, stream,
           "Reduces sendbuf across ranks into recvbuf (in place when recvbuf is None).")
      .def("broadcast", &Comm::broadcast, py::arg("sendbuf"), py::arg("recvbuf") = py::none(),
           py::arg("root") = 0, py::kw_only(), dtype, stream,
           "Copies root's sendbuf into every rank's recvbuf (in place when recvbuf is None).")
      .def("bcast", &Comm::bcast, py::arg("buf"), py::arg("root") = 0, py::kw_only(), dtype,
           stream, "Copies root's buf into every rank's buf (strataBcast, NCCL's ncclBcast).")
      .def("reduce", &Comm::reduce, py::arg("sendbuf"), py::arg("recvbuf") = py::none(),
           py::arg("op") = "sum", py::arg("root") = 0, py::kw_only(), dtype, stream,
           "Reduces sendbuf across ranks into root's recvbuf (in place when recvbuf is None).")
      .def("gather", &Comm::gather, py::arg("sendbuf"), py::arg("recvbuf") = py::none(),
           py::arg("root") = 0, py::kw_only(), dtype, stream,
           "Gathers every rank's sendbuf into root's recvbuf (nranks times as large, ordered by "
           "rank); recvbuf is used on the root only.")
      .def("scatter", &Comm::scatter, py::arg("sendbuf"), py::arg("recvbuf"), py::arg("root") = 0,
           py::kw_only(), dtype, stream,
           "Sends block r of root's sendbuf (nranks blocks) to rank r's recvbuf; sendbuf is used "
           "on the root only (None elsewhere).")
      .def("all_gather", &Comm::allGather, py::arg("sendbuf"), py::arg("recvbuf"), py::kw_only(),
           dtype, stream, "Gathers every rank's sendbuf into recvbuf (nranks times as large).")
      .def("all_gather_v", &Comm::allGatherV, py::arg("sendbuf"), py::arg("recvbuf"),
           py::arg("recv_counts"), py::arg("recv_displs") = py::none(), py::kw_only(), dtype,
           stream, "Gathers rank r's sendbuf (recv_counts[r] elements) at recv_displs[r].")
      .def("reduce_scatter", &Comm::reduceScatter, py::arg("sendbuf"), py::arg("recvbuf"),
           py::arg("op") = "sum", py::kw_only(), dtype, stream,
           "Reduces sendbuf (nranks blocks) across ranks; rank r receives block r.")
      .def("all_to_all", &Comm::allToAll, py::arg("sendbuf"), py::arg("recvbuf") = py::none(),
           py::kw_only(), dtype, stream,
           "Sends block j of sendbuf to rank j; block i of recvbuf comes from rank i.")
      .def("all_to_all_v", &Comm::allToAllV, py::arg("sendbuf"), py::arg("send_counts"),
           py::arg("recvbuf"), py::arg("recv_counts"), py::arg("send_displs") = py::none(),
           py::arg("recv_displs") = py::none(), py::kw_only(), dtype, stream,
           "All-to-all with per-rank counts; displacements default to packed blocks.")
      .def("send", &Comm::send, py::arg("buf"), py::arg("peer"), py::kw_only(), dtype, stream,
           "Sends buf to peer (matched in order with the peer's recv).")
      .def("recv", &Comm::recv, py::arg("buf"), py::arg("peer"), py::kw_only(), dtype, stream,
           "Receives into buf from peer.")
      .def("barrier", &Comm::barrier, py::kw_only(), stream,
           "Returns once every rank has entered the barrier.")
      .def("redop_create_premul_sum", &Comm::redOpCreatePreMulSum, py::arg("scalar"),
           py::arg("dtype") = py::none(), py::kw_only(), py::arg("residence") = "host",
           "A pre-multiplied sum (strataRedOpCreatePreMulSum) for all_reduce, reduce and "
           "reduce_scatter on this Comm with elements of dtype: the sum over ranks of each "
           "rank's scalar times its input. residence='host': scalar (a number, or a one-element "
           "buffer) is read now; 'device': scalar is a one-element buffer, kept and read when "
           "each call runs. dtype defaults to the buffer's type (float32 for a number).")
      .def("redop_destroy", &Comm::redOpDestroy, py::arg("op"),
           "Destroys an op of redop_create_premul_sum (strataRedOpDestroy).")
      .def("sim_compute", &Comm::simCompute, py::arg("microseconds"), py::kw_only(), stream,
           "Charges microseconds of the caller's compute to stream's virtual clock (the caller's "
           "own with stream None) on the sim transport, so a call queued on another stream "
           "overlaps it (strataSimCompute); does nothing on other transports.")
      .def("all_gather_quantized", &Comm::allGatherQuantized, py::arg("sendbuf"),
           py::arg("recvbuf"), py::arg("quant") = "int8", py::arg("block") = 128, py::kw_only(),
           dtype, stream,
           "Gathers sendbuf (float32, float16 or bfloat16) through a low-bit format (int8, int4 "
           "or fp8) with one float32 scale per block of `block` elements, dequantised into "
           "recvbuf (strataAllGatherQuantized).")
      .def("all_reduce_fused", &Comm::allReduceFused, py::arg("sendbuf"), py::arg("recvbuf"),
           py::arg("epilogue"), py::arg("op") = "sum", py::kw_only(), py::arg("row") = 0,
           py::arg("quant") = py::none(), dtype,
           "AllReduce as ReduceScatter -> epilogue(offset, count) on this rank's reduced shard "
           "of recvbuf (elements [offset, offset + count), whole rows of `row` elements, "
           "modified in place) -> AllGather, int8/int4/fp8 with one scale per row when quant is "
           "given (strataAllReduceFused). recvbuf None means in place. Runs to completion.")
      .def("all_gather_quantized_raw", &Comm::allGatherQuantizedRaw, py::arg("sendbuf"),
           py::arg("values"), py::arg("scales"), py::arg("quant") = "int8", py::arg("block") = 128,
           py::kw_only(), dtype, stream,
           "Quantises sendbuf and gathers the packed values (int4: two a byte, low nibble "
           "first) into `values` and the block scales (float32) into `scales`, without "
           "dequantising (strataAllGatherQuantizedRaw).")
      .def("all_gather_quantized_raw_prequantized", &Comm::allGatherQuantizedRawPrequantized,
           py::arg("send_values"), py::arg("send_scales"), py::arg("values"), py::arg("scales"),
           py::arg("quant") = "int8", py::arg("block") = 128, py::kw_only(),
           py::arg("count") = py::none(), stream,
           "Gathers values and scales that are already quantised, as they are "
           "(strataAllGatherQuantizedRawPrequantized); count is the element count of an int4 "
           "input of odd length.");
}

}  // namespace strata::python
