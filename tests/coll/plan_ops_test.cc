// Every op kind of the plan IR and its ordering rules, through small hand-built plans run by the
// executor over a communicator's transport: shared memory between threads, and the simulated
// mesh. Each test runs the same plans on both.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "api/handles.h"
#include "coll/coll_harness.h"
#include "plan/executor.h"
#include "plan/plan.h"
#include "plan/timing_only.h"
#include "reduce/quantize.h"
#include "topology/presets/presets.h"

namespace strata::test {
namespace {

// Runs rank's plan on comm with these buffers and callbacks, as the runtime runs a call.
// transport: when set, the executor runs over it instead of the communicator's own.
Status runPlan(strataComm_t handle, const Plan& plan, const void* send, void* recv,
               std::vector<PlanCallback> callbacks = {}, Transport* transport = nullptr) {
  Comm& comm = *handle->comm;
  std::lock_guard<std::mutex> lock(comm.execMutex());
  const std::string invalid = plan.validate();
  if (!invalid.empty()) return makeError(strataInvalidArgument, "%s", invalid.c_str());
  std::vector<RunItem> items(1);
  items[0].plan = std::make_shared<Plan>(plan);
  items[0].collName = "test plan";
  items[0].callbacks = std::move(callbacks);
  comm.arena().reserveFor(items);
  comm.arena().bind(items[0], send, recv, {});
  RunContext ctx = comm.runContext();
  if (transport != nullptr) ctx.transport = transport;
  PlanRun run(ctx, std::move(items));
  PlanRun* runs[] = {&run};
  Status s = runToCompletion(runs, 1);
  comm.addCounters(run.counters(),
                   run.items().empty() ? "" : run.items().back().plan->algo.c_str(),
                   run.items().empty() ? "" : run.items().back().plan->algoSource);
  return s;
}

Transport& handleTransport(strataComm_t handle) { return handle->comm->transport(); }

class PlanOpsTest : public ::testing::TestWithParam<bool> {
 protected:
  bool sim() const { return GetParam(); }
  // Runs body on `nranks` ranks as threads over shm, or over the sim on this host's topology.
  void run(int nranks, const std::function<void(int, strataComm_t)>& body) {
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    cfg.timeoutMs = 20000;
    cfg.transport = sim() ? "sim" : nullptr;
    runRanksWith(nranks, cfg, body);
  }
};

std::vector<float> iota(size_t n, float start) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

// An op with `after` waits for it: rank 1 receives into scratch and only then copies it out;
// rank 0 sends what a local copy produced, and the send names the copy.
TEST_P(PlanOpsTest, AfterOrdersOpsInsideAPhase) {
  const size_t n = 50000;  // several chunks: the receive is not complete on its first pass
  run(2, [&](int rank, strataComm_t comm) {
    Plan p;
    p.nranks = 2;
    p.scratchBytes = n * 4;
    PlanBuilder pb(p, strataFloat32);
    std::vector<float> in = iota(n, 1), out(n, 0);
    if (rank == 0) {
      const OpId c = pb.copy(sendAt(0), scratchAt(0), n * 4);
      pb.send(1, scratchAt(0), n * 4, {c});
    } else {
      const OpId r = pb.recv(0, scratchAt(0), n * 4);
      pb.copy(scratchAt(0), recvAt(0), n * 4, {r});
    }
    pb.finish();
    ASSERT_EQ(p.phases.size(), 1u);
    ASSERT_TRUE(runPlan(comm, p, in.data(), out.data()).isOk());
    if (rank == 1) {
      EXPECT_EQ(out, iota(n, 1));
    }
  });
}

// Rule 3: a send waiting for its `after` holds back later sends to the same peer, so messages
// still match receives in op order (sizes differ: overtaking would be a size mismatch).
TEST_P(PlanOpsTest, ChannelOrderHoldsWhileAnOpWaits) {
  run(2, [&](int rank, strataComm_t comm) {
    Plan p;
    p.nranks = 2;
    p.scratchBytes = 4096;
    PlanBuilder pb(p, strataUint8);
    std::vector<uint8_t> in(4096), out(4096, 0);
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i * 7);
    if (rank == 0) {
      const OpId c = pb.copy(sendAt(0), scratchAt(0), 1000);
      pb.send(1, scratchAt(0), 1000, {c});
      pb.send(1, sendAt(1000), 24);
    } else {
      pb.recv(0, recvAt(0), 1000);
      pb.recv(0, recvAt(1000), 24);
    }
    pb.finish();
    const Status s = runPlan(comm, p, in.data(), out.data());
    ASSERT_TRUE(s.isOk()) << s.message();
    if (rank == 1) {
      EXPECT_TRUE(std::equal(out.begin(), out.begin() + 1024, in.begin()));
    }
  });
}

// Per-op types: bf16 travels at its width and is converted on both sides; int8 values travel
// with float32 block scales and are dequantised.
TEST_P(PlanOpsTest, TransformConvertsAndQuantises) {
  const size_t n = 1000, block = 64;
  const size_t blocks = (n + block - 1) / block;
  run(2, [&](int rank, strataComm_t comm) {
    Plan p;
    p.nranks = 2;
    p.scratchBytes = n * 2 + n;
    p.scalesBytes = blocks * 4;
    PlanBuilder pb(p);
    std::vector<float> in(n), out(2 * n, 0);
    for (size_t i = 0; i < n; ++i) in[i] = static_cast<float>(i % 37) - 18.0f;
    const BufRef bf16 = scratchAt(0), q = scratchAt(n * 2);
    if (rank == 0) {
      const OpId c = pb.convert(sendAt(0), strataFloat32, bf16, strataBfloat16, n);
      pb.send(1, bf16, n * 2, {c});
      const OpId qz = pb.quantize(sendAt(0), strataFloat32, q, strataInt8, scalesAt(0), block, n);
      pb.send(1, q, n, {qz});
      pb.send(1, scalesAt(0), blocks * 4, {qz});
    } else {
      const OpId r = pb.recv(0, bf16, n * 2);
      pb.convert(bf16, strataBfloat16, recvAt(0), strataFloat32, n, {r});
      const OpId rq = pb.recv(0, q, n);
      const OpId rs = pb.recv(0, scalesAt(0), blocks * 4);
      pb.dequantize(q, strataInt8, scalesAt(0), block, recvAt(n * 4), strataFloat32, n, {rq, rs});
    }
    pb.finish();
    const Status s = runPlan(comm, p, in.data(), out.data());
    ASSERT_TRUE(s.isOk()) << s.message();
    if (rank != 1) return;
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(out[i], in[i]) << "bf16 holds these small integers exactly, element " << i;
      // One int8 step of the block's scale (max |x| / 127) at most.
      ASSERT_NEAR(out[n + i], in[i], 18.0 / 127 / 2 + 1e-6) << "int8 element " << i;
    }
  });
}

// A callback is bound at run time: one cached plan calls whatever the call bound, with the
// range's pointer, element offset, count and type.
TEST_P(PlanOpsTest, CallbackRunsOnTheRangeAfterItLands) {
  struct Seen {
    size_t offset = 0, count = 0;
    strataDataType_t dtype = strataUint8;
    int calls = 0;
  };
  const size_t n = 300;
  run(2, [&](int rank, strataComm_t comm) {
    Plan p;
    p.nranks = 2;
    PlanBuilder pb(p, strataFloat32);
    std::vector<float> in = iota(n, 0), out(n, 0);
    if (rank == 0) {
      pb.send(1, sendAt(0), n * 4);
    } else {
      const OpId r = pb.recv(0, recvAt(0), n * 4);
      pb.callback(0, recvAt(100 * 4), 50, {r});
    }
    pb.finish();
    Seen seen;
    PlanCallback cb{[](void* range, size_t off, size_t count, strataDataType_t t, void* user) {
                      auto* s = static_cast<Seen*>(user);
                      s->offset = off;
                      s->count = count;
                      s->dtype = t;
                      ++s->calls;
                      for (size_t i = 0; i < count; ++i) static_cast<float*>(range)[i] *= 2;
                    },
                    &seen};
    const Status s = runPlan(comm, p, in.data(), out.data(), {cb});
    ASSERT_TRUE(s.isOk()) << s.message();
    if (rank != 1) return;
    EXPECT_EQ(seen.calls, 1);
    EXPECT_EQ(seen.offset, 100u);
    EXPECT_EQ(seen.count, 50u);
    EXPECT_EQ(seen.dtype, strataFloat32);
    for (size_t i = 0; i < n; ++i)
      ASSERT_EQ(out[i], (i >= 100 && i < 150 ? 2.0f : 1.0f) * static_cast<float>(i)) << i;
  });
}

TEST_P(PlanOpsTest, UnboundCallbackIsAClearError) {
  run(1, [&](int, strataComm_t comm) {
    Plan p;
    PlanBuilder pb(p, strataFloat32);
    pb.callback(0, recvAt(0), 4);
    pb.finish();
    std::vector<float> buf(4);
    const Status s = runPlan(comm, p, buf.data(), buf.data());
    EXPECT_EQ(s.code(), strataInvalidUsage);
    EXPECT_NE(s.message().find("callback 0"), std::string::npos) << s.message();
  });
}

// Signals count per (peer, channel): two signals on one channel satisfy two waits, a signal on
// another channel does not satisfy them, and a wait after a receive sees the data landed.
TEST_P(PlanOpsTest, SignalsAndWaitsCountPerChannel) {
  run(2, [&](int rank, strataComm_t comm) {
    Plan p;
    p.nranks = 2;
    PlanBuilder pb(p, strataUint8);
    std::vector<uint8_t> in(64, 9), out(64, 0);
    if (rank == 0) {
      pb.send(1, sendAt(0), 64);
      pb.signal(1, 3);
      pb.signal(1, 5);
      pb.signal(1, 3);
    } else {
      pb.wait(0, 5);
      pb.wait(0, 3);
      pb.wait(0, 3);
      pb.recv(0, recvAt(0), 64);
    }
    pb.finish();
    strataStats_t before{}, after{};
    ASSERT_EQ(strataCommGetStats(comm, &before), strataSuccess);
    const Status s = runPlan(comm, p, in.data(), out.data());
    ASSERT_TRUE(s.isOk()) << s.message();
    ASSERT_EQ(strataCommGetStats(comm, &after), strataSuccess);
    if (rank == 1) {
      EXPECT_EQ(out, in);
      // One chunk handshake for the message, one synchronisation per wait.
      EXPECT_EQ(after.total.syncs - before.total.syncs, 4u);
    }
  });
}

// A plan whose waits use signals from phases the peer runs later: the signals wait in their
// FIFO behind nothing and the counts carry across phases.
TEST_P(PlanOpsTest, SignalReleasesAPeerPhaseByPhase) {
  run(3, [&](int rank, strataComm_t comm) {
    Plan p;
    p.nranks = 3;
    PlanBuilder pb(p, strataUint8);
    // A token passes 0 -> 1 -> 2 -> 0 by signals alone.
    const int next = (rank + 1) % 3, prev = (rank + 2) % 3;
    if (rank == 0) pb.signal(next, 0);
    pb.nextPhase();
    pb.wait(prev, 0);
    pb.nextPhase();
    if (rank != 0) pb.signal(next, 0);
    pb.finish();
    uint8_t dummy = 0;
    const Status s = runPlan(comm, p, &dummy, &dummy);
    EXPECT_TRUE(s.isOk()) << s.message();
  });
}

// A put writes into memory the peer registered; the signal behind it says it has landed. The
// sim has one-sided writes; shared memory has none yet, and a put there is refused by name.
TEST_P(PlanOpsTest, PutLandsBeforeItsSignal) {
  const size_t n = 3000;
  run(2, [&](int rank, strataComm_t comm) {
    Transport& t = handleTransport(comm);
    std::vector<float> in = iota(n, 5), window(n, 0);
    Plan p;
    p.nranks = 2;
    PlanBuilder pb(p, strataFloat32);
    if (rank == 0) {
      pb.wait(1, 1);  // rank 1's window is registered
      pb.nextPhase();
      const OpId put = pb.put(1, 7, 0, sendAt(0), n * 4);
      pb.signal(1, 2, {put});
    } else {
      pb.signal(0, 1);
      pb.wait(0, 2, n * 4);
    }
    pb.finish();
    if (!t.supportsPut()) {
      ASSERT_FALSE(sim());
      const Status reg = t.registerWindow(7, window.data(), n * 4);
      EXPECT_EQ(reg.code(), strataInvalidUsage);
      Plan lone;
      lone.nranks = 2;
      PlanBuilder(lone, strataFloat32).put(1 - rank, 7, 0, sendAt(0), n * 4);
      const Status s = runPlan(comm, lone, in.data(), nullptr);
      EXPECT_EQ(s.code(), strataInvalidUsage);
      EXPECT_NE(s.message().find("no one-sided writes"), std::string::npos) << s.message();
      return;
    }
    if (rank == 1) {
      ASSERT_TRUE(t.registerWindow(7, window.data(), n * 4).isOk());
    }
    const Status s = runPlan(comm, p, in.data(), nullptr);
    ASSERT_TRUE(s.isOk()) << s.message();
    if (rank == 1) {
      EXPECT_EQ(window, in);
    }
  });
}

// Rank 0's view of a peer that sent its part of a call and then exited: the first time rank 0
// asks about its peers, rank 1 is let go to send, and once its message has landed rank 0 is told
// that rank 1 is gone. Everything else is the communicator's own transport.
class PeerExitsAfterSending : public Transport {
 public:
  PeerExitsAfterSending(Transport& inner, std::atomic<bool>& letPeerSend)
      : inner_(inner), letPeerSend_(letPeerSend) {}
  Status checkPeers() override {
    if (!letPeerSend_.exchange(true)) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (inner_.endpoint(1).peek().empty() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return makeError(strataRemoteError, "rank 1 exited");
  }
  const char* name() const override { return inner_.name(); }
  Endpoint& endpoint(int peer) override { return inner_.endpoint(peer); }
  void markAborted() override { inner_.markAborted(); }
  size_t chunkBytes() const override { return inner_.chunkBytes(); }
  bool modelsTime() const override { return inner_.modelsTime(); }
  void phaseBegin() override { inner_.phaseBegin(); }
  void postSend(int peer, size_t bytes) override { inner_.postSend(peer, bytes); }
  void postRecv(int peer, size_t bytes, bool reduces) override {
    inner_.postRecv(peer, bytes, reduces);
  }
  void phaseEnd() override { inner_.phaseEnd(); }

 private:
  Transport& inner_;
  std::atomic<bool>& letPeerSend_;
};

// What a peer sent before it exited is this call's data: the receive completes with it, and the
// peer's exit is no failure of the call.
TEST_P(PlanOpsTest, DataSentBeforeAPeerExitedCompletesTheCall) {
  const size_t n = 256;
  std::atomic<bool> letPeerSend{false};
  run(2, [&](int rank, strataComm_t comm) {
    Plan p;
    p.nranks = 2;
    PlanBuilder pb(p, strataFloat32);
    std::vector<float> in = iota(n, 3), out(n, 0);
    if (rank == 1) {
      pb.send(0, sendAt(0), n * 4);
      pb.finish();
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!letPeerSend.load() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      ASSERT_TRUE(runPlan(comm, p, in.data(), nullptr).isOk());
      return;
    }
    pb.recv(1, recvAt(0), n * 4);
    pb.finish();
    PeerExitsAfterSending view(handleTransport(comm), letPeerSend);
    const Status s = runPlan(comm, p, nullptr, out.data(), {}, &view);
    ASSERT_TRUE(s.isOk()) << s.message();
    EXPECT_EQ(out, iota(n, 3));
  });
}

INSTANTIATE_TEST_SUITE_P(Transports, PlanOpsTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "sim" : "shm");
                         });

}  // namespace
}  // namespace strata::test
