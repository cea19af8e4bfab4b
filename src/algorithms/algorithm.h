// An algorithm emits one rank's plan for a call. Algorithms are written only in plan ops; they
// never touch a transport.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "plan/coll_args.h"
#include "plan/plan.h"

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
  // The transport has one-sided puts into registered windows (Transport::supportsPut).
  bool put = false;
  // Data bytes per flag slot (Transport::flagBytes): flag plans carry up to this much of each
  // rank's data; 0 when the transport has no flags.
  size_t flagBytes = 0;
  // The group of every rank at the topology's level 0 (one host, one server's mesh) when the
  // topology has more than one level; empty otherwise. Hierarchical algorithms plan from it.
  std::vector<int> level0Groups;
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  // The name tune strings, tune files and strata-info use ("ring", "oneshot", ...).
  virtual const char* name() const = 0;
  // One line for strata-info and docs/tuning.md.
  virtual const char* description() const = 0;
  virtual CollType coll() const = 0;
  // The eligibility predicate: whether the algorithm can run this call on this shape. The
  // scheduler prices only eligible algorithms (scheduler/cost_model.h), from the plans they emit.
  virtual bool supports(const CollArgs& args, const CommShape& shape) const = 0;
  // Reads and writes other ranks' buffers directly (BufRef::rank): its supports() holds only for
  // windowed calls on a communicator with windows; the cost model then prices it like any other.
  virtual bool direct() const { return false; }
  // Plans from the send counts of every rank of this rank's level-0 group
  // (CollArgs::groupSendCounts), which the runtime exchanges before planning; a count-array
  // collective with such a candidate picks it wherever it is eligible (scheduler/selector.h).
  virtual bool needsGroupCounts() const { return false; }
  // Moves the call's data through the transport's flag slots (small calls on shared memory).
  virtual bool flagPath() const { return false; }
  // Runs this call only when a tune string or file pins it: the model prices it but never picks
  // it (measured slower there than what the model picks; kept for callers that want it).
  virtual bool pinnedOnly(const CollArgs&, const CommShape&) const { return false; }
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
// The names of the algorithms registered for `coll`, comma-separated ("ring, ringpipe, ..."),
// for error messages.
std::string algorithmNames(CollType coll);

}  // namespace strata
