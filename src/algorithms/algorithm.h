// An algorithm emits one rank's plan for a call. Algorithms are written only in plan ops; they
// never touch a transport.
#pragma once

#include <string>
#include <vector>

#include "plan/coll_args.h"
#include "plan/plan.h"
#include "base/status.h"

namespace strata {

// The communicator shape an algorithm plans for.
struct CommShape {
  int rank = 0;
  int nranks = 1;
  size_t chunkBytes = 128 * 1024;  // pipelining granularity of the transport
  // The transport runs forwarding ops (receive and send on as chunks land) as they behave;
  // transports that model time per phase (sim) do not.
  bool forwarding = true;
  // Every rank shares this host's memory through the shm transport: calls whose buffers lie in
  // registered windows may run direct algorithms (CollArgs::windowed).
  bool windows = false;
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual const char* name() const = 0;
  virtual CollType coll() const = 0;
  virtual bool supports(const CollArgs& args, const CommShape& shape) const = 0;
  // Reads and writes other ranks' buffers directly: eligible only for windowed calls, and then
  // preferred over the algorithms that copy through the transport's FIFOs.
  virtual bool direct() const { return false; }
  // Rough cost in seconds, for choosing between supporting algorithms.
  virtual double estimate(const CollArgs& args, const CommShape& shape) const = 0;
  // Emits the plan for `args` (whose dtype is float32 when the planner stages a low-precision
  // call) and its scratch size.
  virtual Status plan(const CollArgs& args, const CommShape& shape, Plan& out) const = 0;
};

// A builder whose ops carry the call's element type and operator (Avg reduces as Sum; the
// planner appends its one division).
inline PlanBuilder builderFor(Plan& p, const CollArgs& a) {
  return PlanBuilder(p, a.dtype, a.op == strataAvg ? strataSum : a.op);
}

// Every built-in algorithm, in registry order.
const std::vector<const Algorithm*>& algorithmRegistry();
const Algorithm* findAlgorithm(CollType coll, const std::string& name);

// The α-β model shared by the estimates: latency per step plus bytes over bandwidth.
struct CostParams {
  double alpha = 2e-6;       // seconds per step (flag round trip)
  double beta = 1.0 / 6e9;   // seconds per byte copied through shared memory
  double gamma = 1.0 / 8e9;  // seconds per byte reduced
};
const CostParams& defaultCost();

}  // namespace strata
