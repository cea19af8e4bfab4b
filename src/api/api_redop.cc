// strataRedOpCreatePreMulSum and strataRedOpDestroy: the pre-multiplied sums (NCCL's
// ncclRedOpCreatePreMulSum). An op is an id from strataNumOps on, never reused, so a destroyed
// op is told from one that never existed.
#include <climits>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "api/handles.h"
#include "api/redop.h"
#include "base/dtype.h"

using strata::Comm;
using strata::makeError;
using strata::Status;
using strata::api::finish;
using strata::api::onComm;

namespace strata::api {
namespace {

struct PreMulOp {
  const Comm* comm = nullptr;
  strataDataType_t dtype = strataFloat32;
  const void* device = nullptr;  // strataScalarDevice: read when each call runs
  alignas(8) unsigned char value[8] = {};  // strataScalarHostImmediate
};

struct OpTable {
  std::mutex mu;
  std::unordered_map<int, PreMulOp> live;
  int next = strataNumOps;  // the next id handed out; ids below it were handed out
};

// Never destroyed: communicators may be destroyed from static destructors.
OpTable& table() {
  static OpTable* t = new OpTable;
  return *t;
}

}  // namespace

Status resolveReduceOp(const char* name, strataRedOp_t op, strataDataType_t datatype,
                       const Comm& comm, CollArgs& args) {
  const int id = static_cast<int>(op);
  if (validOp(op)) return Status::ok();
  OpTable& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.live.find(id);
  if (it == t.live.end()) {
    if (id >= strataNumOps && id < t.next)
      return makeError(strataInvalidArgument, "%s: op %d was destroyed (strataRedOpDestroy, or with its communicator)",
                       name, id);
    return makeError(strataInvalidArgument,
                     "%s: op %d is not a strataRedOp_t nor an op of strataRedOpCreatePreMulSum",
                     name, id);
  }
  const PreMulOp& p = it->second;
  if (p.comm != &comm)
    return makeError(strataInvalidArgument,
                     "%s: op %d was created on another communicator than %s", name, id,
                     comm.label().c_str());
  if (p.dtype != datatype)
    return makeError(strataInvalidArgument, "%s: op %d was created for %s and used with %s", name,
                     id, dtypeName(p.dtype), dtypeName(datatype));
  args.op = strataSum;
  args.premul.on = true;
  args.premul.device = p.device;
  std::memcpy(args.premul.value, p.value, sizeof p.value);
  return Status::ok();
}

bool isPreMulSumOp(strataRedOp_t op) {
  OpTable& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  return t.live.count(static_cast<int>(op)) != 0;
}

void dropRedOps(const Comm* comm) {
  OpTable& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  for (auto it = t.live.begin(); it != t.live.end();) {
    if (it->second.comm == comm)
      it = t.live.erase(it);
    else
      ++it;
  }
}

// strataRedOpCreatePreMulSum on a checked communicator.
Status createPreMulSum(const char* name, strataRedOp_t* op, const void* scalar,
                       strataDataType_t datatype, strataScalarResidence_t residence,
                       const Comm* comm) {
  if (!op) return makeError(strataInvalidArgument, "%s: op is NULL", name);
  if (!scalar) return makeError(strataInvalidArgument, "%s: scalar is NULL", name);
  const int type = static_cast<int>(datatype);
  if (type < 0 || type >= strataNumTypes)
    return makeError(strataInvalidArgument, "%s: datatype %d is not a strataDataType_t", name,
                     type);
  const int where = static_cast<int>(residence);
  if (where != strataScalarDevice && where != strataScalarHostImmediate)
    return makeError(strataInvalidArgument,
                     "%s: residence %d is not a strataScalarResidence_t (strataScalarDevice or "
                     "strataScalarHostImmediate)",
                     name, where);
  PreMulOp p;
  p.comm = comm;
  p.dtype = datatype;
  if (where == strataScalarDevice)
    p.device = scalar;
  else
    std::memcpy(p.value, scalar, dtypeSize(datatype));
  OpTable& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  if (t.next == INT_MAX)
    return makeError(strataInvalidUsage, "%s: every op id has been handed out", name);
  const int id = t.next++;
  t.live.emplace(id, p);
  *op = static_cast<strataRedOp_t>(id);
  return Status::ok();
}

// strataRedOpDestroy on a checked communicator.
Status destroyRedOp(const char* name, strataRedOp_t op, const Comm* comm) {
  const int id = static_cast<int>(op);
  OpTable& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.live.find(id);
  if (it == t.live.end()) {
    if (validOp(op))
      return makeError(strataInvalidArgument,
                       "%s: op %d is a built-in strataRedOp_t, not an op of "
                       "strataRedOpCreatePreMulSum",
                       name, id);
    if (id >= strataNumOps && id < t.next)
      return makeError(strataInvalidArgument, "%s: op %d was already destroyed", name, id);
    return makeError(strataInvalidArgument,
                     "%s: op %d was not created by strataRedOpCreatePreMulSum", name, id);
  }
  if (it->second.comm != comm)
    return makeError(strataInvalidArgument,
                     "%s: op %d was created on another communicator than %s", name, id,
                     comm->label().c_str());
  t.live.erase(it);
  return Status::ok();
}

}  // namespace strata::api

extern "C" {

strataResult_t strataRedOpCreatePreMulSum(strataRedOp_t* op, void* scalar,
                                          strataDataType_t datatype,
                                          strataScalarResidence_t residence, strataComm_t comm) {
  const char* name = "strataRedOpCreatePreMulSum";
  return onComm(name, comm, [&](Comm* cm) {
    return finish(strata::api::createPreMulSum(name, op, scalar, datatype, residence, cm), cm);
  });
}

strataResult_t strataRedOpDestroy(strataRedOp_t op, strataComm_t comm) {
  const char* name = "strataRedOpDestroy";
  return onComm(name, comm, [&](Comm* cm) {
    return finish(strata::api::destroyRedOp(name, op, cm), cm);
  });
}

}  // extern "C"
