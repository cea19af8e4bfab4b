// The scheduler: candidates priced from the plans they emit on the communicator's topology, the
// selection order (tune string, then model), and the TUNE log naming candidates, winner and source.
#include "scheduler/selector.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/logging.h"
#include "scheduler/planner.h"
#include "scheduler/timing_only_call.h"
#include "sim_selection_context.h"

namespace strata {
namespace {

using test::simContext;

CollArgs allReduce(size_t bytes) {
  CollArgs a;
  a.coll = CollType::kAllReduce;
  a.count = bytes / 4;
  return a;
}

double priceOf(const std::vector<PricedCandidate>& c, const std::string& name) {
  for (const PricedCandidate& p : c)
    if (name == p.algo->name()) return p.seconds;
  return -2;
}

TEST(Selector, ModelPricesThePlansOnTheTopology) {
  const SelectionContext ctx = simContext("hccs-8");
  auto sel = selectAlgorithm(allReduce(16 << 10), ctx, {});
  ASSERT_TRUE(sel.isOk()) << sel.status().message();
  EXPECT_STREQ(sel.value().algo->name(), "oneshot");
  EXPECT_EQ(sel.value().source, SelectionSource::kModel);
  // On the sim the model is the sim's link model: each price is the simulated time.
  for (const char* algo : {"ring", "oneshot"}) {
    const std::string tune = std::string("allreduce:@") + algo;
    auto sim = evaluateTimingOnly(*ctx.topology, allReduce(16 << 10),
                                  TuneTable::parse(tune, "test").value());
    ASSERT_TRUE(sim.isOk());
    EXPECT_NEAR(priceOf(sel.value().candidates, algo),
                static_cast<double>(sim.value().maxEndPs) * 1e-12, 1e-12)
        << algo;
  }
  EXPECT_LT(priceOf(sel.value().candidates, "oneshot") * 5,
            priceOf(sel.value().candidates, "ring"));
  // Large: every pair of the mesh has its own links, so the direct two-shot moves the ring's
  // bytes over all of them at once, in two steps.
  auto big = selectAlgorithm(allReduce(64 << 20), ctx, {});
  EXPECT_STREQ(big.value().algo->name(), "twoshot");
  EXPECT_LT(priceOf(big.value().candidates, "twoshot") * 4,
            priceOf(big.value().candidates, "ring"));
}

TEST(Selector, SharedMemoryPricesForwardingAndCpuCopies) {
  CommShape s;
  s.nranks = 4;
  const SelectionContext ctx = hostSelectionContext(s);
  const std::vector<PricedCandidate> c = priceCandidates(allReduce(1 << 20), ctx);
  ASSERT_EQ(c.size(), 5u) << "ring, ringpipe, oneshot, twoshot and rhd are eligible with forwarding";
  for (const PricedCandidate& p : c) EXPECT_GT(p.seconds, 0) << p.algo->name() << ": " << p.why;
  EXPECT_LT(priceOf(c, "ringpipe"), priceOf(c, "ring")) << "no phase boundary per step";
  EXPECT_LT(priceOf(c, "ring"), priceOf(c, "oneshot"))
      << "one CPU copies a rank's bytes: oneshot's 3x bytes cost 3x";
}

// At 2 ranks both of dbtree's trees are the one link, so it sends the message as two halves where
// the chain sends it whole. Each received chunk costs a handshake, so the split wins only where
// overlapping the first half's reduction with the second half's transfer saves more than that
// (measured: chain faster at 16 B-4 KiB, dbtree at Reduce 16 KiB; docs/performance.md).
TEST(Selector, TwoShmRanksTakeTheChainUnlessSplittingPays) {
  CommShape s;
  s.nranks = 2;
  const SelectionContext ctx = hostSelectionContext(s);
  for (CollType coll : {CollType::kBroadcast, CollType::kReduce}) {
    for (size_t bytes : {size_t{16}, size_t{1} << 10, size_t{4} << 10}) {
      CollArgs a;
      a.coll = coll;
      a.count = bytes / 4;
      auto sel = selectAlgorithm(a, ctx, {}, /*priceAll=*/true);
      ASSERT_TRUE(sel.isOk()) << sel.status().message();
      EXPECT_STREQ(sel.value().algo->name(), "chain") << collName(coll) << " " << bytes;
      EXPECT_GT(priceOf(sel.value().candidates, "dbtree"), priceOf(sel.value().candidates, "chain"))
          << collName(coll) << " " << bytes << ": two halves cost a handshake more";
    }
  }
  CollArgs reduce;
  reduce.coll = CollType::kReduce;
  reduce.count = (16 << 10) / 4;
  auto sel = selectAlgorithm(reduce, ctx, {});
  ASSERT_TRUE(sel.isOk()) << sel.status().message();
  EXPECT_STREQ(sel.value().algo->name(), "dbtree")
      << "16 KiB: reducing one half while the other arrives saves more than a handshake";
}

// The flag path is priced like any plan: one flag round (the level's α) and the data through
// the control segment (posted and read at the level's bandwidth). The model picks it for
// windowed calls up to 256 bytes of slot data; beyond that, and for unregistered calls, it is
// priced but not picked (measured slower there; docs/windows.md).
TEST(Selector, FlagPathIsPricedAndPickedForSmallWindowedCalls) {
  for (int n : {2, 4}) {
    CommShape s;
    s.nranks = n;
    s.windows = true;
    s.flagBytes = 4096;
    const SelectionContext ctx = hostSelectionContext(s);
    for (CollType coll : {CollType::kAllReduce, CollType::kAllGather, CollType::kReduceScatter,
                          CollType::kBroadcast}) {
      CollArgs a;
      a.coll = coll;
      a.windowed = true;
      const size_t perRank = coll == CollType::kReduceScatter ? static_cast<size_t>(n) : 1;
      a.count = 64 / 4 / perRank;  // 64 bytes of slot data
      auto small = selectAlgorithm(a, ctx, {}, /*priceAll=*/true);
      ASSERT_TRUE(small.isOk()) << small.status().message();
      EXPECT_STREQ(small.value().algo->name(), "flag") << collName(coll) << " on " << n;
      EXPECT_EQ(small.value().source, SelectionSource::kModel);
      const double flag64 = priceOf(small.value().candidates, "flag");
      EXPECT_GT(flag64, 0) << collName(coll) << " on " << n << ": the flag plan is priced";
      a.count = 4096 / 4 / perRank;  // a full slot: priced, not picked
      auto full = selectAlgorithm(a, ctx, {}, /*priceAll=*/true);
      ASSERT_TRUE(full.isOk()) << full.status().message();
      EXPECT_STRNE(full.value().algo->name(), "flag") << collName(coll) << " on " << n;
      const double flag4k = priceOf(full.value().candidates, "flag");
      EXPECT_GT(flag4k - flag64, (4096.0 - 64) / (ctx.model->controlBytesPerSecond))
          << collName(coll) << " on " << n << ": at least the posted bytes cost their copy";
      a.windowed = false;  // unregistered: priced, the FIFO algorithms picked
      a.count = 64 / 4 / perRank;
      auto plain = selectAlgorithm(a, ctx, {}, /*priceAll=*/true);
      ASSERT_TRUE(plain.isOk()) << plain.status().message();
      EXPECT_STRNE(plain.value().algo->name(), "flag") << collName(coll) << " on " << n;
      EXPECT_GT(priceOf(plain.value().candidates, "flag"), 0);
    }
  }
}

TEST(Selector, DirectAlgorithmsOnlyForWindowedCallsAndPricedByTheModel) {
  CommShape s;
  s.nranks = 4;
  s.windows = true;
  const SelectionContext ctx = hostSelectionContext(s);
  CollArgs plain = allReduce(1 << 20);
  for (const PricedCandidate& p : priceCandidates(plain, ctx))
    EXPECT_FALSE(p.algo->direct()) << p.algo->name() << " is direct on a call without windows";
  CollArgs windowed = plain;
  windowed.windowed = true;
  const std::vector<PricedCandidate> c = priceCandidates(windowed, ctx);
  ASSERT_EQ(c.size(), 7u)
      << "ring, ringpipe, oneshot, twoshot, rhd, direct_oneshot, direct_twoshot";
  for (const PricedCandidate& p : c) EXPECT_GT(p.seconds, 0) << p.algo->name() << ": " << p.why;
  EXPECT_LT(priceOf(c, "direct_twoshot"), priceOf(c, "direct_oneshot"))
      << "at 1 MiB the one-shot's n-fold reduction costs more than two-shot's extra sync";
  for (size_t bytes : {size_t{64}, size_t{1} << 20}) {
    windowed.count = bytes / 4;
    auto sel = selectAlgorithm(windowed, ctx, {});
    ASSERT_TRUE(sel.isOk()) << sel.status().message();
    EXPECT_TRUE(sel.value().algo->direct()) << bytes << " bytes: " << sel.value().algo->name();
  }
  // Pinning a direct algorithm for a call whose buffers are not in windows is refused.
  const TuneTable pin = TuneTable::parse("allreduce:@direct_oneshot", "test").value();
  auto refused = selectAlgorithm(plain, ctx, {&pin, nullptr});
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().message().find("direct_oneshot"), std::string::npos);
}

TEST(Selector, TuneStringComesFirstAndIsChecked) {
  const SelectionContext ctx = simContext("hccs-8");
  const TuneTable tune = TuneTable::parse("allreduce:0-1m:@ring:chunk=64k", "test").value();
  auto sel = selectAlgorithm(allReduce(16 << 10), ctx, {&tune, nullptr}, /*priceAll=*/true);
  ASSERT_TRUE(sel.isOk());
  EXPECT_STREQ(sel.value().algo->name(), "ring");
  EXPECT_EQ(sel.value().source, SelectionSource::kTuneString);
  EXPECT_EQ(sel.value().chunkBytes, 64u << 10);
  EXPECT_EQ(sel.value().candidates.size(), 4u);  // ring, oneshot, twoshot, rhd
  EXPECT_EQ(selectAlgorithm(allReduce(2 << 20), ctx, {&tune, nullptr}).value().source,
            SelectionSource::kModel);
  // ringpipe needs forwarding, which the sim does not run.
  const TuneTable pipe = TuneTable::parse("allreduce:@ringpipe", "test").value();
  auto refused = selectAlgorithm(allReduce(64), ctx, {&pipe, nullptr});
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().message().find("eligible: ring, oneshot, twoshot, rhd"), std::string::npos)
      << refused.status().message();
}

TEST(Selector, TuneStringRankScopeFollowsTheCommunicatorsRankCount) {
  const TuneTable tune =
      TuneTable::parse("allreduce:n=2-8:@ring#allreduce:n=9-inf:@rhd", "test").value();
  const TuneTable small = TuneTable::parse("allreduce:n=2-4:@ring", "test").value();
  const SelectionContext eight = simContext("hccs-8");
  const SelectionContext sixteen = simContext("hccs-2x8");
  auto a = selectAlgorithm(allReduce(64), eight, {&tune, nullptr});
  ASSERT_TRUE(a.isOk()) << a.status().message();
  EXPECT_STREQ(a.value().algo->name(), "ring");
  EXPECT_EQ(a.value().source, SelectionSource::kTuneString);
  auto b = selectAlgorithm(allReduce(64), sixteen, {&tune, nullptr});
  ASSERT_TRUE(b.isOk()) << b.status().message();
  EXPECT_STREQ(b.value().algo->name(), "rhd");
  EXPECT_EQ(b.value().source, SelectionSource::kTuneString);
  // Out of scope: the model decides (oneshot at 64 B on the mesh, not the pinned ring).
  auto c = selectAlgorithm(allReduce(64), eight, {&small, nullptr});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_STREQ(c.value().algo->name(), "oneshot");
  EXPECT_EQ(c.value().source, SelectionSource::kModel);
  // The same through a timing-only run of the whole communicator.
  auto sim = evaluateTimingOnly(*eight.topology, allReduce(64), tune);
  ASSERT_TRUE(sim.isOk()) << sim.status().message();
  EXPECT_EQ(sim.value().algo, "ring");
  EXPECT_STREQ(sim.value().algoSource, "tune string");
  auto simOut = evaluateTimingOnly(*eight.topology, allReduce(64), small);
  ASSERT_TRUE(simOut.isOk()) << simOut.status().message();
  EXPECT_EQ(simOut.value().algo, "oneshot");
  EXPECT_STREQ(simOut.value().algoSource, "model");
}

TEST(Selector, TuneLogNamesCandidatesWinnerAndSourceOncePerShape) {
  const std::string path = ::testing::TempDir() + "strata-tune-log.txt";
  std::remove(path.c_str());
  setenv("STRATA_DEBUG", "INFO", 1);
  setenv("STRATA_DEBUG_SUBSYS", "TUNE", 1);
  setenv("STRATA_DEBUG_FILE", path.c_str(), 1);
  reloadLogConfig();
  const SelectionContext ctx = simContext("hccs-8");
  Planner planner(ctx, TuneTable{});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(planner.planFor(allReduce(16 << 10)).isOk());
  unsetenv("STRATA_DEBUG");
  unsetenv("STRATA_DEBUG_SUBSYS");
  unsetenv("STRATA_DEBUG_FILE");
  reloadLogConfig();
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string log = ss.str();
  std::remove(path.c_str());
  EXPECT_NE(log.find("AllReduce 16384 bytes float on 8 ranks (topology 'hccs-8'): oneshot by "
                     "model; ring "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("oneshot* 1.58 us"), std::string::npos) << log;
  size_t lines = 0;
  for (char ch : log) lines += ch == '\n';
  EXPECT_EQ(lines, 1u) << log;
}

}  // namespace
}  // namespace strata
