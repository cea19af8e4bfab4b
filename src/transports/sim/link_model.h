// The sim's link model (docs/topology.md). A message of n bytes posted at virtual time t from a
// to b over level L leaves a when both its link and a's egress port have carried it:
//   link   = max(linkFree[a->b], t) + n / B_link(L)
//   egress = max(egressFree[a][port(L)], t) + n / B_port      (when the level has a port)
//   sent   = max(link, egress)
// and b, in its own posting order, charges its ingress port the same way from t, so
//   arrival = max(sent, ingress) + α(L)
// A reduction of n incoming bytes then costs n / reduce rate on b's compute unit. A phase ends
// at the latest of its start, its sends' `sent`, its receives' completions and its local
// reductions. Every resource is owned by one rank and charged in that rank's program order, so
// the times depend only on the plans, never on thread timing.
//
// Time is integer picoseconds: sums are exact, so closed forms such as 7·(α + S/B) hold to the
// last digit whenever S/B is a whole number of picoseconds.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "topology/topology.h"

namespace strata {

using SimTime = int64_t;  // picoseconds

// What a message carries from its sender to its receiver's clock.
struct MsgStamp {
  SimTime postedPs = 0;  // sender's clock when the send was posted (start of its phase)
  SimTime sentPs = 0;    // its last byte has left the sender's link and egress port
  size_t bytes = 0;      // the message's size (a receive of at most n bytes is charged for it)
};

// The topology's numbers in the form the clocks use. Immutable; shared by every rank.
class LinkModel {
 public:
  explicit LinkModel(const Topology& topo);

  int nranks() const { return topo_.nranks; }
  int numLevels() const { return static_cast<int>(topo_.levels.size()); }
  const Topology& topology() const { return topo_; }

  int levelOf(int a, int b) const { return topo_.levelOf(a, b); }
  int portOf(int level) const { return topo_.levels[static_cast<size_t>(level)].port; }
  SimTime alphaPs(int level) const { return alphaPs_[static_cast<size_t>(level)]; }
  SimTime linkPs(int level, size_t bytes) const {
    return durationPs(bytes, topo_.levels[static_cast<size_t>(level)].link.gbps);
  }
  SimTime portPs(int port, size_t bytes) const {
    return durationPs(bytes, topo_.ports[static_cast<size_t>(port)].gbps);
  }
  SimTime reducePs(size_t bytes) const { return durationPs(bytes, topo_.reduceGbps); }

  // bytes at gbps GB/s, rounded to the nearest picosecond; 0 for an unlimited (0) rate.
  static SimTime durationPs(size_t bytes, double gbps);

 private:
  Topology topo_;
  std::vector<SimTime> alphaPs_;
};

// One rank's virtual clock and the resources it owns: its outgoing links and egress ports
// (charged in program order as sends are posted) and its ingress ports and compute unit
// (charged in posting order when the phase ends). Used by one thread at a time.
class RankTimeline {
 public:
  RankTimeline(const LinkModel& model, int rank);

  void phaseBegin();
  // Charges the send to the sender's link and port; the stamp travels with the message.
  MsgStamp postSend(int peer, size_t bytes);
  // A put is charged as a send whose stamp waits for the next signal to the same peer: the
  // signal leaves once the bytes put before it have (its stamp's sentPs covers them).
  void postPut(int peer, size_t bytes);
  MsgStamp postSignal(int peer);
  void postRecv(int peer, size_t bytes, bool reduces);
  // A local reduction of `bytes` (kReduceLocal).
  void chargeCompute(size_t bytes);
  // Completes the phase: take(peer) returns the stamp of the next message received from peer,
  // called once per posted receive in posting order.
  template <typename TakeStamp>
  void phaseEnd(TakeStamp&& take) {
    SimTime end = phaseEnd_;
    for (const PostedRecv& r : posted_) end = std::max(end, arrive(r, take(r.peer)));
    posted_.clear();
    clock_ = end;
  }

  SimTime clockPs() const { return clock_; }
  // The rank is idle until t: the next phase starts no earlier (never moves the clock back).
  void advanceTo(SimTime t) { clock_ = std::max(clock_, t); }
  int rank() const { return rank_; }

 private:
  struct PostedRecv {
    int peer;
    size_t bytes;
    bool reduces;
  };
  SimTime arrive(const PostedRecv& r, const MsgStamp& s);

  const LinkModel* model_;
  int rank_;
  SimTime clock_ = 0;
  SimTime phaseStart_ = 0;
  SimTime phaseEnd_ = 0;
  SimTime computeFree_ = 0;
  std::vector<SimTime> egressFree_;   // per port
  std::vector<SimTime> ingressFree_;  // per port
  std::vector<SimTime> linkFree_;     // per peer: this rank's outgoing link
  std::vector<SimTime> putSent_;      // per peer: when the puts not yet signalled have left
  std::vector<PostedRecv> posted_;
};

}  // namespace strata
