// The one cost model. Every candidate is priced from the plans it emits, walked through the same
// per-phase events the executor announces to the sim and timing-only evaluation replays
// (plan/phase_events.h): a message costs its level's α plus its bytes over the link bandwidth,
// bounded by the rank's port caps per direction; a reduction costs its bytes over the reduction
// rate; phases end when their last message lands. No algorithm carries a formula of its own.
//
// Where the numbers come from: the communicator's topology (a preset or file gives the same α, β
// and port caps the sim's link model uses; a host-derived topology the built-in shared-memory and
// TCP figures), a tune file's fitted α and β when one is loaded, and on CPU-driven transports two
// measured shared-memory facts: one CPU moves a rank's bytes (a port per level capped at the
// link's bandwidth), and every phase boundary or signal wait costs one pass of the progress loop.
#pragma once

#include <cstddef>
#include <vector>

#include "algorithms/algorithm.h"
#include "plan/plan.h"
#include "topology/topology.h"

namespace strata {

// What a phase boundary or a signal wait costs a CPU-driven transport beyond the messages'
// α: one more pass of the progress loop (measured on shared memory, docs/tuning.md).
inline constexpr double kCpuSyncSeconds = 0.3e-6;

struct CostModel {
  Topology links;          // the topology the link model walks (ports added for CPU copies)
  double syncSeconds = 0;  // per phase and per signal wait, on the slowest rank
  size_t chunkBytes = 1;   // the transport's chunk (handshakes are counted in it)
  // Bytes per second one CPU copies to or from a peer's window (direct plans' copies, which the
  // phase walk does not time): the innermost level's bandwidth.
  double directBytesPerSecond = 0;
  // Bytes per second one CPU copies between its own buffers (staging, rotations; not timed by
  // the phase walk either): the same, on CPU-driven transports; 0 on the sim, which does not
  // charge them.
  double localCopyBytesPerSecond = 0;
  // The flag path (flag plans over the transport's control segment): a phase that waits on
  // peers' flags costs one handoff of the flags' cache lines between cores, the innermost
  // level's α (what a message's first byte costs too); the data posted into this rank's slot
  // and read from the peers' slots moves at the innermost level's bandwidth. Both from the
  // topology (the built-in shared-memory figures) or a tune file's fitted level 0.
  double flagRoundSeconds = 0;
  double controlBytesPerSecond = 0;
};

// The model of a communicator on `topo`. modelsTime: the transport is the sim, whose link model
// the cost model then is exactly (no CPU ports, no sync cost), so the model's price of a plan set
// equals its simulated time.
CostModel costModelFor(const Topology& topo, bool modelsTime, size_t chunkBytes);

// The plans of `algo` for every rank of `shape` (shape.rank is ignored).
Result<std::vector<PlanPtr>> plansForEveryRank(const Algorithm& algo, const CollArgs& args,
                                               const CommShape& shape);

// The price in seconds of every rank r running plans[r]: the link model's latest finish plus the
// sync cost times the most phases, waits (signal and flag) and received chunks any rank has, plus
// the most bytes any rank copies to or from peers' windows at directBytesPerSecond and between its
// own buffers at localCopyBytesPerSecond, plus for flag plans flagRoundSeconds per phase that
// waits on flags and the most bytes any rank moves through the control segment (posted into its
// slot, read from its peers' slots) at controlBytesPerSecond. Forwarding ops (which the phase walk
// does not time) are priced as a receive, then the send on in the next step, without the phase
// boundary between them.
Result<double> pricePlans(const CostModel& model, const std::vector<PlanPtr>& plans);

}  // namespace strata
