#include "plan/timing_only.h"

#include <algorithm>
#include <unordered_map>

#include "plan/phase_events.h"
#include "transports/sim/sim_transport.h"

namespace strata {
namespace {

struct InFlight {
  MsgStamp stamp;
  size_t bytes;
  bool signal;
};

// Messages from one rank to another, in send order. Receives match them in posting order
// (`matched`); the phase end takes their stamps (`read`).
struct PairQueue {
  std::vector<InFlight> msgs;
  size_t matched = 0;
  size_t read = 0;
};

struct RankState {
  RankState(const LinkModel& model, int rank) : timeline(model, rank) {}
  RankTimeline timeline;
  size_t phase = 0;
  size_t cursor = 0;  // next op of the current phase to match
  bool begun = false;
  int waitingOn = -1;
  ExecCounters counters;
};

// The op kinds the sim's phase model times: everything but forwarding (plans for the sim are
// built without it).
bool modelledBySim(OpKind kind) {
  return kind != OpKind::kRecvReduceSend && kind != OpKind::kRecvCopySend;
}

bool matchesMessage(OpKind kind) {
  return kind == OpKind::kRecv || kind == OpKind::kRecvReduce || kind == OpKind::kWait ||
         kind == OpKind::kRecvDequantize;
}

class Evaluator {
 public:
  Evaluator(const Topology& topo, const std::vector<PlanPtr>& plans, size_t chunkBytes)
      : model_(topo), plans_(plans), n_(topo.nranks), chunkBytes_(std::max<size_t>(chunkBytes, 1)) {
    inbox_.resize(static_cast<size_t>(n_));
    ranks_.reserve(static_cast<size_t>(n_));
    for (int r = 0; r < n_; ++r) ranks_.emplace_back(model_, r);
  }

  Result<SimResult> run() {
    std::vector<int> ready;
    for (int r = n_ - 1; r >= 0; --r) ready.push_back(r);
    while (!ready.empty()) {
      const int r = ready.back();
      ready.pop_back();
      STRATA_CHECK(advance(r, ready));
    }
    SimResult out;
    out.algo = plans_.empty() ? "" : plans_[0]->algo;
    out.algoSource = plans_.empty() ? "" : plans_[0]->algoSource;
    for (int r = 0; r < n_; ++r) {
      const RankState& st = ranks_[static_cast<size_t>(r)];
      const Plan& plan = *plans_[static_cast<size_t>(r)];
      if (st.phase < plan.phases.size()) {
        return makeError(strataInvalidUsage,
                         "timing-only %s: rank %d cannot finish phase %zu of %zu: it waits for a "
                         "message from rank %d that no plan sends",
                         plan.algo.c_str(), r, st.phase + 1, plan.phases.size(), st.waitingOn);
      }
      const SimTime end = st.timeline.clockPs();
      out.rankEndPs.push_back(end);
      out.maxEndPs = r == 0 ? end : std::max(out.maxEndPs, end);
      out.minEndPs = r == 0 ? end : std::min(out.minEndPs, end);
      out.rankCounters.push_back(st.counters);
      out.total.bytesSent += st.counters.bytesSent;
      for (int l = 0; l < STRATA_MAX_LEVELS; ++l)
        out.total.bytesPerLevel[l] += st.counters.bytesPerLevel[l];
      out.total.steps += st.counters.steps;
      out.total.syncs += st.counters.syncs;
    }
    return out;
  }

 private:
  PairQueue& queue(int to, int from) { return inbox_[static_cast<size_t>(to)][from]; }

  // Receives the events the executor announces to the sim transport at the start of a phase.
  struct PhaseSink {
    Evaluator& e;
    int r;
    RankState& st;
    std::vector<int>& ready;

    void deliver(int peer, const MsgStamp& s, size_t bytes, bool signal) {
      e.queue(peer, r).msgs.push_back({s, bytes, signal});
      RankState& dst = e.ranks_[static_cast<size_t>(peer)];
      if (dst.waitingOn == r) {
        dst.waitingOn = -1;
        ready.push_back(peer);
      }
    }
    void count(int peer, size_t bytes) {
      st.counters.bytesSent += bytes;
      st.counters.bytesPerLevel[e.model_.levelOf(r, peer)] += bytes;
    }
    void postSend(int peer, size_t bytes) {
      deliver(peer, st.timeline.postSend(peer, bytes), bytes, false);
      count(peer, bytes);
    }
    void postPut(int peer, size_t bytes) {
      st.timeline.postPut(peer, bytes);
      count(peer, bytes);
    }
    void postSignal(int peer) { deliver(peer, st.timeline.postSignal(peer), 0, true); }
    void postRecv(int peer, size_t bytes, bool reduces) {
      st.timeline.postRecv(peer, bytes, reduces);
    }
    void postWait(int peer, size_t bytes) { st.timeline.postRecv(peer, bytes, false); }
    void chargeCompute(size_t bytes) { st.timeline.chargeCompute(bytes); }
  };

  void beginPhase(int r, RankState& st, const Phase& ph, std::vector<int>& ready) {
    st.timeline.phaseBegin();
    PhaseSink sink{*this, r, st, ready};
    announcePhase(ph, sink);
    st.begun = true;
    st.cursor = 0;
  }

  // Runs rank r's plan until it completes or waits for a message not sent yet.
  Status advance(int r, std::vector<int>& ready) {
    RankState& st = ranks_[static_cast<size_t>(r)];
    const Plan& plan = *plans_[static_cast<size_t>(r)];
    while (st.phase < plan.phases.size()) {
      const Phase& ph = plan.phases[st.phase];
      if (!st.begun) beginPhase(r, st, ph, ready);
      for (; st.cursor < ph.ops.size(); ++st.cursor) {
        const Op& op = ph.ops[st.cursor];
        if (!matchesMessage(op.kind)) continue;
        PairQueue& q = queue(r, op.peer);
        if (q.matched == q.msgs.size()) {
          st.waitingOn = op.peer;
          return Status::ok();
        }
        const bool wait = op.kind == OpKind::kWait;
        if (q.msgs[q.matched].signal != wait) {
          return makeError(strataInvalidUsage,
                           "timing-only %s: rank %d sent a %s where rank %d expected a %s",
                           plan.algo.c_str(), op.peer, wait ? "message" : "signal", r,
                           wait ? "signal" : "message");
        }
        if (wait) {
          ++q.matched;
          ++st.counters.syncs;
          continue;
        }
        if (q.msgs[q.matched].bytes != op.bytes) {
          return makeError(strataInvalidUsage,
                           "timing-only %s: rank %d sent a message of %zu bytes where rank %d "
                           "expected %zu (mismatched counts between the ranks)",
                           plan.algo.c_str(), op.peer, q.msgs[q.matched].bytes, r, op.bytes);
        }
        ++q.matched;
        st.counters.syncs += (op.bytes + chunkBytes_ - 1) / chunkBytes_;
      }
      st.timeline.phaseEnd([&](int peer) {
        auto it = inbox_[static_cast<size_t>(r)].find(peer);
        PairQueue& q = it->second;
        const MsgStamp s = q.msgs[q.read++].stamp;
        if (q.read == q.msgs.size()) inbox_[static_cast<size_t>(r)].erase(it);
        return s;
      });
      ++st.counters.steps;
      ++st.phase;
      st.begun = false;
    }
    return Status::ok();
  }

  const LinkModel model_;
  const std::vector<PlanPtr>& plans_;
  const int n_;
  const size_t chunkBytes_;
  // Per receiver, the queues of senders with messages not yet taken: memory follows the
  // messages in flight, not the n^2 pairs.
  std::vector<std::unordered_map<int, PairQueue>> inbox_;
  std::vector<RankState> ranks_;
};

}  // namespace

Result<SimResult> evaluatePlans(const Topology& topo, const std::vector<PlanPtr>& plans,
                                size_t chunkBytes) {
  STRATA_CHECK(topo.validate());
  if (plans.size() != static_cast<size_t>(topo.nranks))
    return makeError(strataInvalidArgument, "timing-only: %zu plans for topology '%s' of %d ranks",
                     plans.size(), topo.name.c_str(), topo.nranks);
  for (size_t r = 0; r < plans.size(); ++r) {
    if (!plans[r]) return makeError(strataInvalidArgument, "timing-only: rank %zu has no plan", r);
    for (const Phase& ph : plans[r]->phases)
      for (const Op& op : ph.ops) {
        if (!modelledBySim(op.kind))
          return makeError(strataInvalidArgument,
                           "timing-only %s: rank %zu's plan has a %s op, which the sim's phase "
                           "model does not time",
                           plans[r]->algo.c_str(), r, opKindName(op.kind));
      }
    const std::string invalid = plans[r]->validate();
    if (!invalid.empty())
      return makeError(strataInvalidArgument, "timing-only: rank %zu: %s", r, invalid.c_str());
  }
  Evaluator e(topo, plans, chunkBytes);
  return e.run();
}

}  // namespace strata
