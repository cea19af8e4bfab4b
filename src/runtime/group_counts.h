// The count exchange an AllToAllv needs before it can be planned hierarchically: the rank that
// packs a group's blocks for level 1 must know what its group's other ranks send, and each rank
// knows only its own counts. Each rank sends its sendcounts to the other ranks of its level-0
// group (one message each, one phase, over the communicator's transport with the call's
// deadline and abort), and the planner then plans from them (CollArgs::groupSendCounts).
//
// The exchanges of a launch's communicators run together (one thread may drive several ranks'
// communicators in a group), before any of their calls is planned. Their messages carry the
// CallKind::kGroupCounts tag. Their bytes and time are not in the calls' statistics; on the sim
// their time is charged to the calls' virtual clock.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "plan/coll_args.h"
#include "plan/executor.h"

namespace strata {

class Comm;

class GroupCountExchange {
 public:
  // Readies the exchange for the calls of `comm` whose algorithm needs their group's counts
  // (Planner::needsGroupCounts); false when none does. `calls` must outlive deliver().
  bool prepare(Comm& comm, std::vector<CollArgs>& calls);
  PlanRun& run() { return run_; }
  // After the run: writes each such call's groupSendCounts.
  void deliver();

 private:
  std::vector<CollArgs>* calls_ = nullptr;
  std::vector<size_t> which_;     // the calls that need counts
  std::vector<int> members_;      // this rank's level-0 group, ascending
  size_t nranks_ = 0;
  std::vector<uint64_t> mine_;    // which_.size() x 2 x nranks (send counts, send displacements)
  std::vector<uint64_t> theirs_;  // which_.size() x members x 2 x nranks
  PlanRun run_;
};

// Drives the readied exchanges to completion together and delivers their counts.
Status runGroupCountExchanges(GroupCountExchange* const* exchanges, size_t count);

}  // namespace strata
