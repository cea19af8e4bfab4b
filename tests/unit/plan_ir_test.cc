// The plan IR without a transport: the builder, plan validation, the index patterns, the
// planner's cache and precision choice, and timing-only evaluation of signals and puts.
#include <gtest/gtest.h>

#include <set>

#include "algorithms/algorithm.h"
#include "algorithms/patterns/blocks.h"
#include "algorithms/patterns/ring.h"
#include "plan/plan.h"
#include "plan/timing_only.h"
#include "scheduler/planner.h"
#include "topology/topology_json.h"

namespace strata {
namespace {

TEST(PlanBuilder, DropsZeroSizeOpsAndEmptyPhases) {
  Plan p;
  PlanBuilder pb(p, strataFloat32);
  EXPECT_EQ(pb.send(1, sendAt(0), 0), PlanBuilder::kNoOp);
  EXPECT_EQ(pb.copy(sendAt(0), sendAt(0), 64), PlanBuilder::kNoOp) << "a copy onto itself";
  pb.nextPhase();
  pb.nextPhase();
  const OpId c = pb.copy(sendAt(0), recvAt(0), 64);
  const OpId z = pb.recv(1, recvAt(0), 0);
  pb.send(1, recvAt(0), 64, {c, z});
  pb.nextPhase();
  pb.finish();
  ASSERT_EQ(p.phases.size(), 1u);
  ASSERT_EQ(p.phases[0].ops.size(), 2u);
  EXPECT_EQ(c, 0);
  EXPECT_EQ(p.phases[0].ops[1].after, std::vector<uint16_t>{0}) << "kNoOp is skipped";
}

TEST(PlanBuilder, EveryOpCarriesItsOwnTypes) {
  Plan p;
  PlanBuilder pb(p, strataBfloat16, strataMax);
  pb.recvReduce(1, recvAt(0), sendAt(0), 64);
  pb.types(strataFloat32, strataSum);
  pb.reduceLocal(recvAt(0), recvAt(0), scratchAt(0), 64);
  pb.quantize(recvAt(0), strataFloat32, scratchAt(0), strataInt8, scalesAt(0), 16, 16);
  pb.finish();
  const auto& ops = p.phases[0].ops;
  EXPECT_EQ(ops[0].dtype, strataBfloat16);
  EXPECT_EQ(ops[0].redop, strataMax);
  EXPECT_EQ(ops[1].dtype, strataFloat32);
  EXPECT_EQ(ops[1].redop, strataSum);
  EXPECT_EQ(ops[2].kind, OpKind::kTransform);
  EXPECT_EQ(ops[2].transform, TransformKind::kQuantize);
  EXPECT_EQ(ops[2].dtype, strataFloat32);
  EXPECT_EQ(ops[2].dstType, strataInt8);
  EXPECT_EQ(ops[2].blockElems, 16u);
}

TEST(PlanBuilder, ReduceManyOfTwoIsAPlainLocalReduction) {
  Plan p;
  PlanBuilder pb(p, strataFloat32);
  pb.reduceMany(recvAt(0), scratchAt(0), 256, 2, 256);
  pb.reduceMany(recvAt(0), scratchAt(0), 256, 5, 256);
  pb.finish();
  const auto& ops = p.phases[0].ops;
  EXPECT_EQ(ops[0].nsrc, 2);
  EXPECT_EQ(ops[0].src2.offset, 256u);
  EXPECT_EQ(ops[1].nsrc, 5);
  EXPECT_EQ(ops[1].srcStride, 256u);
}

TEST(PlanValidate, NamesTheBadOp) {
  Plan p;
  p.nranks = 2;
  PlanBuilder pb(p, strataUint8);
  pb.send(1, sendAt(0), 8);
  pb.finish();
  EXPECT_EQ(p.validate(), "");
  p.phases[0].ops[0].after.push_back(0);
  EXPECT_NE(p.validate().find("does not come before it"), std::string::npos) << p.validate();
  p.phases[0].ops[0].after.clear();
  p.phases[0].ops[0].peer = 2;
  EXPECT_NE(p.validate().find("peer out of range"), std::string::npos) << p.validate();

  Plan q;
  q.nranks = 2;
  PlanBuilder(q).wait(1, kSignalChannels);
  EXPECT_NE(q.validate().find("signal channel out of range"), std::string::npos);
  Plan r;
  PlanBuilder(r, strataFloat32).callback(0, recvAt(0), 4);
  EXPECT_EQ(r.callbackSlots, 1);
  r.phases[0].ops[0].index = 3;
  EXPECT_NE(r.validate().find("callback slot"), std::string::npos);
}

TEST(PlanOpKinds, ChannelSidesAndNames) {
  EXPECT_TRUE(sendsOnChannel(OpKind::kSignal));
  EXPECT_TRUE(sendsOnChannel(OpKind::kPut));
  EXPECT_TRUE(sendsOnChannel(OpKind::kRecvCopySend));
  EXPECT_FALSE(receivesOnChannel(OpKind::kWait)) << "a wait is not a channel op (plan.h rule 4)";
  EXPECT_TRUE(receivesOnChannel(OpKind::kRecvReduceSend));
  EXPECT_FALSE(sendsOnChannel(OpKind::kCallback));
  EXPECT_STREQ(opKindName(OpKind::kTransform), "transform");
}

TEST(Patterns, BlocksTileTheCountInOrder) {
  for (size_t count : {0u, 1u, 7u, 1000u, 1048579u}) {
    for (int parts : {1, 2, 3, 7, 8}) {
      size_t next = 0;
      for (int i = 0; i < parts; ++i) {
        const patterns::Block b = patterns::blockOf(count, parts, i);
        EXPECT_EQ(b.offset, next) << count << "/" << parts << " block " << i;
        EXPECT_LE(b.count, count / static_cast<size_t>(parts) + 1);
        next += b.count;
      }
      EXPECT_EQ(next, count);
    }
  }
  EXPECT_EQ(patterns::chunksFor(0, 10), 0u);
  EXPECT_EQ(patterns::chunksFor(10, 10), 1u);
  EXPECT_EQ(patterns::chunksFor(11, 10), 2u);
}

TEST(Patterns, RingStepsMatchNeighboursAndEndOwningOneBlockEach) {
  for (int n : {2, 3, 7, 8}) {
    std::set<int> owned;
    for (int r = 0; r < n; ++r) {
      const patterns::Ring me{r, n}, left{patterns::mod(r - 1, n), n};
      for (int s = 0; s < n - 1; ++s) {
        EXPECT_EQ(me.rsRecvBlock(s), left.rsSendBlock(s)) << "n " << n << " rank " << r;
        EXPECT_EQ(me.agRecvBlock(s), left.agSendBlock(s)) << "n " << n << " rank " << r;
      }
      owned.insert(me.agSendBlock(0));
      EXPECT_EQ(me.agSendBlock(0), me.rsRecvBlock(n - 2)) << "the last block reduced";
    }
    EXPECT_EQ(owned.size(), static_cast<size_t>(n)) << "every block owned by one rank";
  }
}

CollArgs allReduce(size_t count, strataDataType_t t) {
  CollArgs a;
  a.coll = CollType::kAllReduce;
  a.count = count;
  a.dtype = t;
  return a;
}

TEST(Planner, CachesOnePlanPerShape) {
  CommShape shape;
  shape.nranks = 4;
  Planner planner(shape, TuneTable{});
  auto a = planner.planFor(allReduce(1000, strataFloat32));
  auto b = planner.planFor(allReduce(1000, strataFloat32));
  auto c = planner.planFor(allReduce(1001, strataFloat32));
  auto d = planner.planFor(allReduce(1000, strataFloat32));
  ASSERT_TRUE(a.isOk() && b.isOk() && c.isOk() && d.isOk());
  EXPECT_EQ(a.value(), b.value());
  EXPECT_NE(a.value(), c.value());
  EXPECT_EQ(a.value(), d.value()) << "an older shape comes back from the cache";
}

// Low precision reduces at its own width by default; float32 staging is the option.
TEST(Planner, LowPrecisionTravelsAtItsWidthUnlessStaged) {
  CommShape shape;
  shape.nranks = 4;
  auto tune = TuneTable::parse("allreduce:@ring", "test");
  ASSERT_TRUE(tune.isOk());
  Planner wire(shape, tune.value());
  Planner staged(shape, tune.value(), /*stageFloat32=*/true);
  auto w = wire.planFor(allReduce(1000, strataBfloat16));
  auto s = staged.planFor(allReduce(1000, strataBfloat16));
  ASSERT_TRUE(w.isOk() && s.isOk());
  size_t wireBytes = 0, stagedBytes = 0, transforms = 0;
  for (const Phase& ph : w.value()->phases)
    for (const Op& op : ph.ops) {
      if (op.kind == OpKind::kSend) wireBytes += op.bytes;
      if (op.kind == OpKind::kRecvReduce) {
        EXPECT_EQ(op.dtype, strataBfloat16);
      }
    }
  for (const Phase& ph : s.value()->phases)
    for (const Op& op : ph.ops) {
      if (op.kind == OpKind::kSend) stagedBytes += op.bytes;
      if (op.kind == OpKind::kTransform) ++transforms;
      if (op.kind == OpKind::kRecvReduce) {
        EXPECT_EQ(op.dtype, strataFloat32);
      }
    }
  EXPECT_EQ(w.value()->stageInBytes, 0u);
  EXPECT_EQ(2 * wireBytes, stagedBytes);
  EXPECT_EQ(transforms, 2u) << "one widening, one narrowing";
}

// Timing-only evaluation times a put by the signal behind it: the waiting rank finishes when
// the put's bytes have crossed the link, one latency after.
TEST(TimingOnly, SignalCarriesThePutBeforeIt) {
  auto topo = parseTopologyJson(R"({"version": 1, "name": "pair", "ranks": 2,
      "levels": [{"name": "mesh", "link": {"alphaUs": 1, "gbps": 10}}]})",
                                "test");
  ASSERT_TRUE(topo.isOk()) << topo.status().message();
  const size_t bytes = 1000000;  // 100 us at 10 GB/s
  auto p0 = std::make_shared<Plan>(), p1 = std::make_shared<Plan>();
  p0->nranks = p1->nranks = 2;
  {
    PlanBuilder pb(*p0);
    const OpId put = pb.put(1, 0, 0, sendAt(0), bytes);
    pb.signal(1, 0, {put});
    pb.finish();
  }
  PlanBuilder(*p1).wait(0, 0, bytes);
  auto r = evaluatePlans(topo.value(), {p0, p1}, 128 * 1024);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r.value().rankEndPs[1], 101 * 1000000LL) << "100 us of bytes + 1 us latency";
  EXPECT_EQ(r.value().rankCounters[0].bytesSent, bytes);
  EXPECT_EQ(r.value().rankCounters[1].syncs, 1u);

  // A wait with no signal to match is reported, naming the rank.
  auto lone = std::make_shared<Plan>();
  lone->nranks = 2;
  PlanBuilder(*lone).wait(1, 0);
  auto empty = std::make_shared<Plan>();
  empty->nranks = 2;
  auto bad = evaluatePlans(topo.value(), {lone, empty}, 128 * 1024);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("rank 0"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace strata
