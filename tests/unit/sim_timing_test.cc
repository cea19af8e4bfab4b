// The sim link model and timing-only evaluation: closed-form α-β oracles on the real algorithms'
// plans, port contention, determinism, and evaluation at 384 ranks.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "scheduler/planner.h"
#include "topology/presets/presets.h"
#include "topology/topology_json.h"
#include "transports/sim/link_model.h"
#include "transports/sim/sim_transport.h"
#include "scheduler/timing_only_call.h"
#include "plan/timing_only.h"

namespace strata {
namespace {

constexpr SimTime kUs = 1'000'000;  // picoseconds per microsecond

// S = 128 tokens x 7168 bytes: S / 56 GB/s = 16.384 us exactly, S / 392 GB/s = 2.340571.. us.
constexpr size_t kBlock = 128 * 7168;

TuneTable tune(const std::string& spec) { return TuneTable::parse(spec, "test").value(); }

CollArgs allGather(size_t bytesPerRank) {
  CollArgs a;
  a.coll = CollType::kAllGather;
  a.dtype = strataUint8;
  a.count = bytesPerRank;
  return a;
}

// Ranks 0..n-1 of a one-level topology whose port cap equals one link: α = 0, 56 GB/s.
Topology cappedStar(int n, double portGbps) {
  Topology t;
  t.name = "capped";
  t.nranks = n;
  t.ports = {{"p", portGbps}};
  LevelSpec l;
  l.name = "mesh";
  l.link = {0.0, 56.0};
  l.port = 0;
  l.groupOf.assign(static_cast<size_t>(n), 0);
  t.levels = {l};
  return t;
}

// A single-phase plan of sends and receives of `bytes` each.
PlanPtr p2pPlan(int n, const std::vector<int>& sendTo, const std::vector<int>& recvFrom,
                size_t bytes) {
  auto p = std::make_shared<Plan>();
  p->algo = "test";
  p->nranks = n;
  PlanBuilder pb(*p);
  for (int to : sendTo) pb.send(to, sendAt(0), bytes);
  for (int from : recvFrom) pb.recv(from, recvAt(0), bytes);
  pb.finish();
  return p;
}

TEST(SimLinkModel, DurationsArePicoseconds) {
  EXPECT_EQ(LinkModel::durationPs(kBlock, 56.0), 16384 * 1000);
  EXPECT_EQ(LinkModel::durationPs(1000, 1.0), 1'000'000);  // 1000 B at 1 GB/s = 1 us
  EXPECT_EQ(LinkModel::durationPs(0, 56.0), 0);
  EXPECT_EQ(LinkModel::durationPs(12345, 0.0), 0);  // unlimited
}

TEST(SimOracle, RingAllGatherOnHccs8TakesSevenSteps) {
  const Topology t = hccsMeshPreset(1);
  for (size_t s : {kBlock, size_t{7} * 4096, size_t{56}}) {
    auto r = evaluateTimingOnly(t, allGather(s), tune("allgather:@ring"));
    ASSERT_TRUE(r.isOk()) << r.status().message();
    EXPECT_EQ(r.value().algo, "ring");
    const SimTime step = 1 * kUs + LinkModel::durationPs(s, 56.0);  // α + S/B_link
    for (SimTime end : r.value().rankEndPs) EXPECT_EQ(end, 7 * step) << "S = " << s;
  }
  // S/B is a whole number of picoseconds here, so the closed form holds exactly.
  auto r = evaluateTimingOnly(t, allGather(kBlock), tune("allgather:@ring"));
  EXPECT_EQ(r.value().maxEndPs, 7 * (1 * kUs + 16'384'000));
}

TEST(SimOracle, MeshAllGatherOnHccs8TakesOneStep) {
  const Topology t = hccsMeshPreset(1);
  // 7 blocks through a 392 GB/s port take exactly as long as one block on a 56 GB/s link when
  // S / 392 GB/s is whole picoseconds (S a multiple of 49 x 8).
  const size_t s = 49 * 8 * 2048;
  auto r = evaluateTimingOnly(t, allGather(s), tune("allgather:@mesh"));
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r.value().algo, "mesh");
  const SimTime expected = 1 * kUs + LinkModel::durationPs(s, 56.0);
  EXPECT_EQ(r.value().maxEndPs, expected);
  EXPECT_EQ(r.value().minEndPs, expected);
  // A port narrower than 7 links: the port, not the link, sets the time.
  Topology narrow = t;
  narrow.ports[0].gbps = 112.0;
  auto n = evaluateTimingOnly(narrow, allGather(s), tune("allgather:@mesh"));
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(n.value().maxEndPs, 1 * kUs + LinkModel::durationPs(7 * s, 112.0));
}

TEST(SimContention, TwoFlowsIntoOneCappedPortTakeTwiceAsLong) {
  const Topology t = cappedStar(3, 56.0);
  const size_t bytes = 7 * 1000 * 1000;
  // Rank 1 alone sends to rank 0.
  std::vector<PlanPtr> one = {p2pPlan(3, {}, {1}, bytes), p2pPlan(3, {0}, {}, bytes),
                              p2pPlan(3, {}, {}, bytes)};
  // Ranks 1 and 2 both send to rank 0 at time 0.
  std::vector<PlanPtr> two = {p2pPlan(3, {}, {1, 2}, bytes), p2pPlan(3, {0}, {}, bytes),
                              p2pPlan(3, {0}, {}, bytes)};
  auto a = evaluatePlans(t, one, kSimChunkBytes);
  auto b = evaluatePlans(t, two, kSimChunkBytes);
  ASSERT_TRUE(a.isOk()) << a.status().message();
  ASSERT_TRUE(b.isOk()) << b.status().message();
  EXPECT_EQ(a.value().rankEndPs[0], LinkModel::durationPs(bytes, 56.0));
  EXPECT_EQ(b.value().rankEndPs[0], 2 * a.value().rankEndPs[0]);
  // Egress: one rank sending to two peers through its capped port.
  std::vector<PlanPtr> fanOut = {p2pPlan(3, {1, 2}, {}, bytes), p2pPlan(3, {}, {0}, bytes),
                                 p2pPlan(3, {}, {0}, bytes)};
  auto c = evaluatePlans(t, fanOut, kSimChunkBytes);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c.value().rankEndPs[0], 2 * a.value().rankEndPs[0]);
  EXPECT_EQ(c.value().rankEndPs[1], a.value().rankEndPs[0]);  // first in program order
  EXPECT_EQ(c.value().rankEndPs[2], 2 * a.value().rankEndPs[0]);
  // An uncapped port lets both flows run at link speed.
  Topology open = t;
  open.ports.clear();
  open.levels[0].port = -1;
  auto d = evaluatePlans(open, two, kSimChunkBytes);
  ASSERT_TRUE(d.isOk());
  EXPECT_EQ(d.value().rankEndPs[0], a.value().rankEndPs[0]);
}

TEST(SimTiming, ReductionsCostBytesOverComputeRate) {
  Topology t = cappedStar(2, 56.0);
  t.reduceGbps = 14.0;
  auto p0 = std::make_shared<Plan>();
  p0->nranks = 2;
  PlanBuilder b0(*p0);
  b0.recvReduce(1, recvAt(0), sendAt(0), 7000);
  b0.finish();
  std::vector<PlanPtr> plans = {p0, p2pPlan(2, {0}, {}, 7000)};
  auto r = evaluatePlans(t, plans, kSimChunkBytes);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r.value().rankEndPs[0],
            LinkModel::durationPs(7000, 56.0) + LinkModel::durationPs(7000, 14.0));
}

TEST(SimTiming, CountersMatchThePlans) {
  const Topology t = hccsMeshPreset(2);
  const size_t s = 3 * kSimChunkBytes + 5;
  auto r = evaluateTimingOnly(t, allGather(s), tune("allgather:@ring"));
  ASSERT_TRUE(r.isOk()) << r.status().message();
  const ExecCounters& total = r.value().total;
  // Every rank forwards 15 blocks to its right neighbour; ranks 7 and 15 cross to the other
  // server.
  EXPECT_EQ(total.bytesSent, 16u * 15u * s);
  EXPECT_EQ(total.bytesPerLevel[1], 2u * 15u * s);
  EXPECT_EQ(total.bytesPerLevel[0], 14u * 15u * s);
  EXPECT_EQ(total.syncs, 16u * 15u * 4u);  // 4 chunks per block
  EXPECT_EQ(total.steps, 16u * 16u);       // the local copy plus 15 ring steps
}

TEST(SimTiming, DeterministicAndScheduleIndependent) {
  const Topology t = hccsMeshPreset(4);
  CollArgs a;
  a.coll = CollType::kAllReduce;
  a.dtype = strataFloat32;
  a.count = 300000;
  auto x = evaluateTimingOnly(t, a, tune("allreduce:@ring"));
  auto y = evaluateTimingOnly(t, a, tune("allreduce:@ring"));
  ASSERT_TRUE(x.isOk() && y.isOk());
  EXPECT_EQ(x.value().rankEndPs, y.value().rankEndPs);
  EXPECT_GT(x.value().maxEndPs, 0);
}

TEST(SimTiming, StuckAndMismatchedPlansAreErrors) {
  const Topology t = cappedStar(2, 56.0);
  std::vector<PlanPtr> stuck = {p2pPlan(2, {}, {1}, 100), p2pPlan(2, {}, {}, 100)};
  auto r = evaluatePlans(t, stuck, kSimChunkBytes);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("rank 0 cannot finish phase 1"), std::string::npos)
      << r.status().message();
  std::vector<PlanPtr> mismatch = {p2pPlan(2, {}, {1}, 100), p2pPlan(2, {0}, {}, 64)};
  r = evaluatePlans(t, mismatch, kSimChunkBytes);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("64 bytes where rank 0 expected 100"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(evaluatePlans(t, {stuck[0]}, kSimChunkBytes).isOk());  // one plan for two ranks
}

TEST(SimTiming, AllToAllOnCm384) {
  const Topology t = cloudMatrixPreset(384);
  CollArgs a;
  a.coll = CollType::kAllToAll;
  a.dtype = strataUint8;
  a.count = kBlock;
  auto r = evaluateTimingOnly(t, a, TuneTable());
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r.value().algo, "pairwise");
  const ExecCounters& total = r.value().total;
  EXPECT_EQ(total.bytesPerLevel[0], 384u * 7u * kBlock);
  EXPECT_EQ(total.bytesPerLevel[1], 384u * 376u * kBlock);
  EXPECT_EQ(total.steps, 384u * 384u);  // own-block copy plus 383 exchanges
  // No exchange step can be quicker than one block through the port plus a hop.
  EXPECT_GE(r.value().minEndPs, 383 * (LinkModel::durationPs(kBlock, 392.0) + kUs / 5));
  EXPECT_LE(r.value().minEndPs, r.value().maxEndPs);
}

}  // namespace
}  // namespace strata
