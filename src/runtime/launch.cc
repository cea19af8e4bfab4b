#include "runtime/launch.h"

#include <algorithm>
#include <map>
#include <memory>

#include "base/logging.h"
#include "plan/call_tag.h"
#include "runtime/call_check.h"
#include "runtime/group_counts.h"
#include "runtime/window_binding.h"

namespace strata {
namespace {

struct Call {
  Comm* comm;
  CollArgs args;
  Stream* stream;
};

// Where a launch's virtual time (virtual_clocks.h) comes from: the clock of the stream it runs
// on, and the caller's clock when it was issued.
struct VirtualStart {
  uint64_t stream = VirtualClocks::kCaller;
  int64_t stampPs = 0;
};

// A launch on `stream` issued now by the caller; synchronizing the stream joins its clock.
VirtualStart issueOn(Comm& comm, Stream* stream) {
  if (!stream) return {};
  stream->joinOnSynchronize(comm.clocks());
  return {stream->clockKey(), comm.clocks()->now(VirtualClocks::kCaller)};
}

// Everything one communicator runs for one launch: Send/Recv fused first, then collectives in
// the order they were called.
struct CommWork {
  Comm* comm = nullptr;
  Stream* stream = nullptr;
  std::vector<CollArgs> calls;
  VirtualStart start;
};

struct GroupState {
  int depth = 0;
  std::vector<Call> calls;
  std::vector<CollArgs> oneComm;  // the calls of a group on one communicator, reused
};

[[gnu::tls_model("initial-exec")]] thread_local GroupState tlsGroup;  // see logging.cc

bool isPointToPoint(CollType c) { return c == CollType::kSend || c == CollType::kRecv; }

// What a collective binds beyond sendbuff and recvbuff: the fused AllReduce's epilogue
// (callback 0), the scales of the raw quantised AllGather (extra slot 0: recvScales; 1: a
// prequantised input's sendScales), the scalar of a pre-multiplied sum (extra slot 0).
void bindCallExtras(RunItem& item, const CollArgs& a) {
  if (a.premul.on) {
    item.extras.assign(1, static_cast<std::byte*>(const_cast<void*>(a.premul.scalar())));
    return;
  }
  if (a.coll == CollType::kAllReduceFused) {
    item.callbacks.assign(1, PlanCallback{a.fused.epilogue, a.fused.user});
    return;
  }
  if (a.coll != CollType::kAllGatherQuantized || a.quant.mode == QuantMode::kDequantize) return;
  item.extras.resize(2);
  item.extras[0] = reinterpret_cast<std::byte*>(a.quant.recvScales);
  item.extras[1] = reinterpret_cast<std::byte*>(const_cast<float*>(a.quant.sendScales));
}

// What the run counted, with the size of the calls' data (CollArgs::messageBytes).
ExecCounters countersOf(const Comm& comm, const PlanRun& run, const CollArgs* calls, size_t count) {
  ExecCounters c = run.counters();
  for (size_t i = 0; i < count; ++i) c.callBytes += calls[i].messageBytes(comm.nranks());
  return c;
}

// The algorithm of the run's last plan, for the statistics.
const char* algoOf(PlanRun& run) {
  return run.items().empty() ? "" : run.items().back().plan->algo.c_str();
}
const char* algoSourceOf(PlanRun& run) {
  return run.items().empty() ? "" : run.items().back().plan->algoSource;
}

// Fills the communicator's reusable run with these calls; the comm's exec mutex must be held.
Status prepare(Comm& comm, const CollArgs* calls, size_t count) {
  PlanRun& run = comm.run();
  run.reset(comm.runContext());
  std::vector<RunItem>& items = run.items();
  size_t p2pCount = 0;
  for (size_t i = 0; i < count; ++i) p2pCount += isPointToPoint(calls[i].coll) ? 1 : 0;
  PlanPtr p2pPlan;
  std::vector<void*> extras;
  CollType p2pSingle = CollType::kSend;
  if (p2pCount > 0) {
    std::vector<CollArgs> p2p;
    for (size_t i = 0; i < count; ++i) {
      const CollArgs& a = calls[i];
      if (!isPointToPoint(a.coll)) continue;
      p2p.push_back(a);
      p2pSingle = a.coll;
      extras.push_back(a.coll == CollType::kSend ? const_cast<void*>(a.sendbuff) : a.recvbuff);
    }
    p2pPlan = comm.planner().planPointToPoint(p2p);
  }
  // Plans first: the arena is sized for all of them before any buffer is bound.
  const size_t first = items.size();
  for (size_t i = 0; i < count; ++i) {
    if (isPointToPoint(calls[i].coll)) continue;
    STRATA_ASSIGN(PlanPtr plan, comm.planner().planFor(calls[i]));
    items.emplace_back();
    items.back().plan = std::move(plan);
    items.back().collName = collName(calls[i].coll);
  }
  comm.arena().reserveFor(items);
  size_t k = first;
  for (size_t i = 0; i < count; ++i) {
    if (isPointToPoint(calls[i].coll)) continue;
    comm.arena().bind(items[k], calls[i].sendbuff, calls[i].recvbuff, {});
    bindPeers(items[k], calls[i], comm.nranks());
    bindCallExtras(items[k++], calls[i]);
  }
  if (p2pPlan) {
    RunItem it;
    it.plan = p2pPlan;
    it.collName = p2pCount > 1 ? "Send/Recv group" : collName(p2pSingle);
    comm.arena().bind(it, nullptr, nullptr, extras);
    items.insert(items.begin(), std::move(it));  // Send/Recv run before the collectives
  }
  run.start();
  run.notePrepared(calls, count);
  return Status::ok();
}

// Points the items prepare() built for these calls at the calls' buffers: the Send/Recv item
// first (one extra slot per call, in call order), then one item per collective.
void rebind(PlanRun& run, const CollArgs* calls, size_t count) {
  std::vector<RunItem>& items = run.items();
  bool p2p = false;
  for (size_t i = 0; i < count && !p2p; ++i) p2p = isPointToPoint(calls[i].coll);
  size_t extra = 0;
  size_t item = p2p ? 1 : 0;
  for (size_t i = 0; i < count; ++i) {
    const CollArgs& a = calls[i];
    if (isPointToPoint(a.coll)) {
      const void* buf = a.coll == CollType::kSend ? a.sendbuff : a.recvbuff;
      items.front().extras[extra++] = static_cast<std::byte*>(const_cast<void*>(buf));
      continue;
    }
    RunItem& it = items[item++];
    it.bases[kSendBuf] = static_cast<std::byte*>(const_cast<void*>(a.sendbuff));
    it.bases[kRecvBuf] = static_cast<std::byte*>(a.recvbuff);
    bindPeers(it, a, it.plan->nranks);
    bindCallExtras(it, a);
  }
  run.restart();
}

// Gives the prepared items of these calls their call tags, in the order the items run: the fused
// Send/Recv item first, then one item per collective.
void tagItems(Comm& comm, PlanRun& run, const CollArgs* calls, size_t count) {
  std::vector<RunItem>& items = run.items();
  bool p2p = false;
  for (size_t i = 0; i < count && !p2p; ++i) p2p = isPointToPoint(calls[i].coll);
  size_t item = 0;
  if (p2p) items[item++].call = comm.nextCallTag(static_cast<uint8_t>(CallKind::kPointToPoint));
  for (size_t i = 0; i < count; ++i)
    if (!isPointToPoint(calls[i].coll)) items[item++].call = comm.nextCallTag(callKindOf(calls[i].coll));
}

// The checker of a communicator whose calls STRATA_CHECK=1 checks, readied for them; null when
// there is nothing to check. The comm's exec mutex must be held.
CallChecker* readyCheck(Comm& comm, const CollArgs* calls, size_t count) {
  CallChecker* checker = comm.callChecker();
  if (checker == nullptr || !CallChecker::applies(calls, count)) return nullptr;
  checker->prepare(comm.runContext(), calls, count, comm.callsRun() + 1);
  return checker;
}

// STRATA_CHECK=1: the ranks exchange the signatures of the works' calls before any data moves.
// A failed exchange fails its communicators and is returned. Works whose ranks disagree are
// marked in `refused` (every rank of them sees the disagreement and skips them, so their
// communicators stay usable) and the first disagreement is returned in `disagreement`.
Status checkWorks(std::vector<CommWork>& works, std::vector<char>& refused, Status& disagreement) {
  refused.assign(works.size(), 0);
  std::vector<CallChecker*> checkers;
  std::vector<size_t> checked;
  for (size_t i = 0; i < works.size(); ++i) {
    CommWork& w = works[i];
    if (CallChecker* c = readyCheck(*w.comm, w.calls.data(), w.calls.size())) {
      checkers.push_back(c);
      checked.push_back(i);
    }
  }
  if (checkers.empty()) return Status::ok();
  Status s = runCallChecks(checkers.data(), checkers.size());
  if (!s.isOk()) {
    for (size_t i : checked) works[i].comm->fail(s);
    return s;
  }
  for (size_t k = 0; k < checked.size(); ++k) {
    CommWork& w = works[checked[k]];
    Status v = checkers[k]->verdict(w.comm->label());
    if (v.isOk()) continue;
    w.comm->recordError(v);
    refused[checked[k]] = 1;
    if (disagreement.isOk()) disagreement = v;
  }
  return Status::ok();
}

// Runs the works of several communicators together, to completion.
Status execute(std::vector<CommWork>& works) {
  std::sort(works.begin(), works.end(),
            [](const CommWork& a, const CommWork& b) { return a.comm < b.comm; });
  std::vector<std::unique_lock<std::mutex>> locks;
  for (CommWork& w : works) {
    locks.emplace_back(w.comm->execMutex());
    RankScope scope(w.comm->rank());
    Status s = w.comm->ready();
    if (!s.isOk()) {
      w.comm->recordError(s);
      return s;
    }
  }
  std::vector<char> refused;
  Status disagreement;
  STRATA_CHECK(checkWorks(works, refused, disagreement));
  std::vector<CommWork*> accepted;
  for (size_t i = 0; i < works.size(); ++i)
    if (!refused[i]) accepted.push_back(&works[i]);
  if (accepted.empty()) return disagreement;
  std::vector<PlanRun*> runs;
  std::vector<int64_t> starts;
  // Before the runs start: starting one opens its first phase at the transport's clock.
  for (CommWork* w : accepted) starts.push_back(w->comm->beginVirtual(w->start.stream, w->start.stampPs));
  std::vector<GroupCountExchange> exchanges(accepted.size());
  std::vector<GroupCountExchange*> readied;
  for (size_t i = 0; i < accepted.size(); ++i) {
    if (exchanges[i].prepare(*accepted[i]->comm, accepted[i]->calls)) readied.push_back(&exchanges[i]);
  }
  if (!readied.empty()) {
    Status s = runGroupCountExchanges(readied.data(), readied.size());
    if (!s.isOk()) {
      for (CommWork* w : accepted) w->comm->fail(s);
      return s;
    }
  }
  for (CommWork* w : accepted) {
    RankScope scope(w->comm->rank());
    Status s = prepare(*w->comm, w->calls.data(), w->calls.size());
    if (!s.isOk()) {
      w->comm->recordError(s);
      return s;
    }
    tagItems(*w->comm, w->comm->run(), w->calls.data(), w->calls.size());
    runs.push_back(&w->comm->run());
  }
  RankScope scope(accepted.size() == 1 ? accepted.front()->comm->rank() : currentLogRank());
  Status s = runToCompletion(runs.data(), runs.size());
  for (size_t i = 0; i < accepted.size(); ++i) {
    CommWork* w = accepted[i];
    w->comm->addCounters(countersOf(*w->comm, w->comm->run(), w->calls.data(), w->calls.size()),
                         algoOf(w->comm->run()), algoSourceOf(w->comm->run()), starts[i]);
    w->comm->endVirtual(w->start.stream);
    if (!s.isOk()) w->comm->fail(s);
  }
  return s.isOk() ? disagreement : s;
}

// The calls of one communicator run now: a single call, or a group on one communicator. The
// common case, kept free of allocation: calls that repeat the last ones reuse the prepared run.
Status executeOnOne(Comm& comm, const CollArgs* calls, size_t count, VirtualStart start = {}) {
  std::lock_guard<std::mutex> lock(comm.execMutex());
  STRATA_CHECK(comm.ready());
  if (CallChecker* checker = readyCheck(comm, calls, count)) {
    Status s = runCallChecks(&checker, 1);
    if (!s.isOk()) {
      comm.fail(s);
      return s;
    }
    STRATA_CHECK(checker->verdict(comm.label()));
  }
  // Before the run starts: starting it opens its first phase at the transport's clock.
  const int64_t startPs = comm.beginVirtual(start.stream, start.stampPs);
  PlanRun* run = &comm.run();
  std::vector<CollArgs> counted;  // the calls with their group's counts, when one needs them
  if (run->preparedFor(calls, count)) {
    rebind(*run, calls, count);
  } else {
    if (std::any_of(calls, calls + count,
                    [](const CollArgs& a) { return a.coll == CollType::kAllToAllv; })) {
      counted.assign(calls, calls + count);
      GroupCountExchange ex;
      if (ex.prepare(comm, counted)) {
        GroupCountExchange* readied = &ex;
        Status s = runGroupCountExchanges(&readied, 1);
        if (!s.isOk()) {
          comm.fail(s);
          return s;
        }
        calls = counted.data();
      }
    }
    STRATA_CHECK(prepare(comm, calls, count));
  }
  tagItems(comm, *run, calls, count);
  Status s = runToCompletion(&run, 1);
  comm.addCounters(countersOf(comm, *run, calls, count), algoOf(*run), algoSourceOf(*run),
                   startPs);
  comm.endVirtual(start.stream);
  if (!s.isOk()) comm.fail(s);
  return s;
}

// Queues calls of one communicator on a stream, to run there as executeOnOne runs them now.
void enqueueOnOne(Stream& stream, Comm& comm, std::vector<CollArgs> calls) {
  comm.pending().fetch_add(1);
  for (const CollArgs& a : calls) holdWindows(comm, a, +1);
  const VirtualStart start = issueOn(comm, &stream);
  stream.enqueue([c = &comm, calls = std::move(calls), start] {
    RankScope scope(c->rank());
    Status s = executeOnOne(*c, calls.data(), calls.size(), start);
    for (const CollArgs& a : calls) holdWindows(*c, a, -1);
    if (!s.isOk()) c->recordError(s);
    c->pending().fetch_sub(1);
    return s;
  });
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
    for (CommWork& w : list) {
      w.start = issueOn(*w.comm, stream);
      w.comm->pending().fetch_add(1);
      for (const CollArgs& a : w.calls) holdWindows(*w.comm, a, +1);
    }
    auto shared = std::make_shared<std::vector<CommWork>>(std::move(list));
    stream->enqueue([shared] {
      std::vector<Comm*> comms;
      for (CommWork& w : *shared) comms.push_back(w.comm);
      Status s = execute(*shared);
      for (CommWork& w : *shared)
        for (const CollArgs& a : w.calls) holdWindows(*w.comm, a, -1);
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
  if (!tlsGroup.calls.empty() &&
      std::all_of(tlsGroup.calls.begin(), tlsGroup.calls.end(), [](const Call& c) {
        return c.comm == tlsGroup.calls.front().comm && c.stream == tlsGroup.calls.front().stream;
      })) {
    // One communicator and one stream: run in place (or queue) like a single call, reusing this
    // thread's buffers.
    Comm& comm = *tlsGroup.calls.front().comm;
    Stream* stream = tlsGroup.calls.front().stream;
    tlsGroup.oneComm.clear();
    for (const Call& c : tlsGroup.calls) tlsGroup.oneComm.push_back(c.args);
    Status s;
    if (stream) {
      enqueueOnOne(*stream, comm, tlsGroup.oneComm);
    } else {
      RankScope scope(comm.rank());
      s = executeOnOne(comm, tlsGroup.oneComm.data(), tlsGroup.oneComm.size());
      if (!s.isOk()) comm.recordError(s);
    }
    for (const Call& c : tlsGroup.calls) c.comm->active().fetch_sub(1);
    tlsGroup.calls.clear();
    return s;
  }
  std::vector<Call> calls = std::move(tlsGroup.calls);
  tlsGroup.calls.clear();
  std::vector<CommWork> works;
  for (Call& c : calls) {
    auto it = std::find_if(works.begin(), works.end(),
                           [&](const CommWork& w) { return w.comm == c.comm; });
    if (it == works.end()) {
      works.push_back(CommWork{c.comm, c.stream, {}, {}});
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

Status launch(Comm& comm, const CollArgs& callArgs, Stream* stream) {
  CollArgs args = callArgs;
  markWindowed(comm, args);
  if (inGroup()) {
    // The communicator stays pinned until the group ends.
    comm.active().fetch_add(1);
    tlsGroup.calls.push_back(Call{&comm, args, stream});
    return Status::ok();
  }
  if (!stream) return executeOnOne(comm, &args, 1);
  enqueueOnOne(*stream, comm, {args});
  return Status::ok();
}

}  // namespace strata
