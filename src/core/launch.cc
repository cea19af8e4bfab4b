#include "core/launch.h"

#include <algorithm>
#include <map>
#include <memory>

#include "core/logging.h"

namespace strata {
namespace {

struct Call {
  Comm* comm;
  CollArgs args;
  Stream* stream;
};

// Everything one communicator runs for one launch: Send/Recv fused first, then collectives in
// the order they were called.
struct CommWork {
  Comm* comm = nullptr;
  Stream* stream = nullptr;
  std::vector<CollArgs> calls;
};

struct GroupState {
  int depth = 0;
  std::vector<Call> calls;
};

thread_local GroupState tlsGroup;

bool isPointToPoint(CollType c) { return c == CollType::kSend || c == CollType::kRecv; }

// Builds the run of one communicator; the comm's exec mutex must be held.
Result<std::unique_ptr<PlanRun>> prepare(CommWork& w) {
  Comm& comm = *w.comm;
  std::vector<RunItem> items;
  std::vector<CollArgs> p2p;
  for (const CollArgs& a : w.calls)
    if (isPointToPoint(a.coll)) p2p.push_back(a);
  if (!p2p.empty()) {
    PlanPtr plan = comm.planner().planPointToPoint(p2p);
    std::vector<void*> extras;
    for (const CollArgs& a : p2p)
      extras.push_back(a.coll == CollType::kSend ? const_cast<void*>(a.sendbuff) : a.recvbuff);
    RunItem it;
    it.plan = plan;
    it.bases = comm.bindBuffers(*plan, nullptr, nullptr, extras);
    it.collName = p2p.size() == 1 ? collName(p2p.front().coll) : "Send/Recv group";
    items.push_back(std::move(it));
  }
  // The arena is sized for every plan before any is bound, so no binding moves it later.
  std::vector<PlanPtr> plans;
  size_t scratch = 0, in = 0, out = 0;
  for (const CollArgs& a : w.calls) {
    if (isPointToPoint(a.coll)) continue;
    STRATA_ASSIGN(PlanPtr plan, comm.planner().planFor(a));
    scratch = std::max(scratch, plan->scratchBytes);
    in = std::max(in, plan->stageInBytes);
    out = std::max(out, plan->stageOutBytes);
    plans.push_back(plan);
  }
  comm.reserveArena(scratch, in, out);
  size_t k = 0;
  for (const CollArgs& a : w.calls) {
    if (isPointToPoint(a.coll)) continue;
    RunItem it;
    it.plan = plans[k++];
    it.bases = comm.bindBuffers(*it.plan, a.sendbuff, a.recvbuff, {});
    it.collName = collName(a.coll);
    items.push_back(std::move(it));
  }
  return std::make_unique<PlanRun>(comm.runContext(), std::move(items));
}

// Runs the works of several communicators together, to completion.
Status execute(std::vector<CommWork>& works) {
  std::sort(works.begin(), works.end(),
            [](const CommWork& a, const CommWork& b) { return a.comm < b.comm; });
  std::vector<std::unique_lock<std::mutex>> locks;
  std::vector<std::unique_ptr<PlanRun>> runs;
  std::vector<PlanRun*> ptrs;
  for (CommWork& w : works) {
    locks.emplace_back(w.comm->execMutex());
    RankScope scope(w.comm->rank());
    Status ready = w.comm->ready();
    Result<std::unique_ptr<PlanRun>> run = ready.isOk() ? prepare(w) : Result<std::unique_ptr<PlanRun>>(ready);
    if (!run.isOk()) {
      w.comm->recordError(run.status());
      return run.status();
    }
    ptrs.push_back(run.value().get());
    runs.push_back(std::move(run).value());
  }
  RankScope scope(works.size() == 1 ? works.front().comm->rank() : currentLogRank());
  Status s = runToCompletion(ptrs);
  for (size_t i = 0; i < works.size(); ++i) {
    works[i].comm->addCounters(runs[i]->counters());
    if (!s.isOk()) works[i].comm->fail(s);
  }
  return s;
}

// Runs works now (null stream) or queues them, grouped by stream.
Status dispatch(std::vector<CommWork> works) {
  std::map<Stream*, std::vector<CommWork>> byStream;
  for (CommWork& w : works) byStream[w.stream].push_back(std::move(w));
  Status result;
  for (auto& [stream, list] : byStream) {
    if (!stream) {
      Status s = execute(list);
      if (!s.isOk() && result.isOk()) result = s;
      continue;
    }
    for (CommWork& w : list) w.comm->pending().fetch_add(1);
    auto shared = std::make_shared<std::vector<CommWork>>(std::move(list));
    stream->enqueue([shared] {
      std::vector<Comm*> comms;
      for (CommWork& w : *shared) comms.push_back(w.comm);
      Status s = execute(*shared);
      for (Comm* c : comms) c->pending().fetch_sub(1);
      return s;
    });
  }
  return result;
}

}  // namespace

bool inGroup() { return tlsGroup.depth > 0; }

Status groupStart() {
  ++tlsGroup.depth;
  return Status::ok();
}

Status groupEnd() {
  if (tlsGroup.depth == 0) {
    return makeError(strataInvalidUsage, "strataGroupEnd called without strataGroupStart");
  }
  if (--tlsGroup.depth > 0) return Status::ok();
  std::vector<Call> calls = std::move(tlsGroup.calls);
  tlsGroup.calls.clear();
  std::vector<CommWork> works;
  for (Call& c : calls) {
    auto it = std::find_if(works.begin(), works.end(),
                           [&](const CommWork& w) { return w.comm == c.comm; });
    if (it == works.end()) {
      works.push_back(CommWork{c.comm, c.stream, {}});
      it = works.end() - 1;
    } else if (it->stream != c.stream) {
      Status s = makeError(strataInvalidUsage,
                           "group: %s was used with two different streams in one group",
                           c.comm->label().c_str());
      for (Call& each : calls) each.comm->active().fetch_sub(1);
      return s;
    }
    it->calls.push_back(c.args);
  }
  Status s = dispatch(std::move(works));
  for (Call& c : calls) c.comm->active().fetch_sub(1);
  return s;
}

Status launch(Comm& comm, const CollArgs& args, Stream* stream) {
  if (inGroup()) {
    // The communicator stays pinned until the group ends.
    comm.active().fetch_add(1);
    tlsGroup.calls.push_back(Call{&comm, args, stream});
    return Status::ok();
  }
  std::vector<CommWork> works(1);
  works[0].comm = &comm;
  works[0].stream = stream;
  works[0].calls.push_back(args);
  return dispatch(std::move(works));
}

}  // namespace strata
