// The quantised AllGather's plans and prices, without a transport: both candidates are priced
// on the bytes that travel (packed values plus scales), the planner picks and caches them like
// any collective's, and the mesh dequantises on receive with the scales in front of the values.
#include <gtest/gtest.h>

#include <vector>

#include "algorithms/algorithm.h"
#include "base/quant_format.h"
#include "scheduler/cost_model.h"
#include "scheduler/planner.h"

namespace strata {
namespace {

CollArgs quantizedCall(size_t count, strataQuant_t q, size_t block,
                       QuantMode mode = QuantMode::kDequantize) {
  CollArgs a;
  a.coll = CollType::kAllGatherQuantized;
  a.count = count;
  a.dtype = strataBfloat16;
  a.quant.format = q;
  a.quant.blockElems = block;
  a.quant.mode = mode;
  return a;
}

// The model prices the plans each candidate emits, so the quantised formats' smaller wire
// bytes show in their prices without any formula of their own.
double meshPrice(const CollArgs& a, const SelectionContext& ctx) {
  const Algorithm* mesh = findAlgorithm(a.coll, "mesh");
  auto plans = plansForEveryRank(*mesh, a, ctx.shape);
  EXPECT_TRUE(plans.isOk());
  auto price = pricePlans(*ctx.model, plans.value());
  EXPECT_TRUE(price.isOk()) << price.status().message();
  return price.value();
}

TEST(QuantizedPlans, PricedOnValuesPlusScales) {
  CommShape s;
  s.nranks = 8;
  const SelectionContext ctx = hostSelectionContext(s);
  const size_t count = 16 * 7168;
  // int4 moves about half of int8's bytes, which moves about half of the plain bf16 gather's.
  CollArgs plain;
  plain.coll = CollType::kAllGather;
  plain.count = count;
  plain.dtype = strataBfloat16;
  const double bf16 = meshPrice(plain, ctx);
  const double int8 = meshPrice(quantizedCall(count, strataQuantInt8, 7168), ctx);
  const double int4 = meshPrice(quantizedCall(count, strataQuantInt4, 7168), ctx);
  EXPECT_LT(int8, bf16);
  EXPECT_LT(int4, int8);
}

TEST(QuantizedPlans, PlannerPicksTheMeshAndCachesPerFormatBlockAndMode) {
  CommShape s;
  s.nranks = 4;
  s.rank = 1;
  s.forwarding = false;  // as on the sim: one piece
  Planner planner(s, TuneTable{});
  auto a = planner.planFor(quantizedCall(1000, strataQuantInt8, 100));
  ASSERT_TRUE(a.isOk()) << a.status().message();
  EXPECT_EQ(a.value()->algo, "mesh");
  auto again = planner.planFor(quantizedCall(1000, strataQuantInt8, 100));
  EXPECT_EQ(again.value().get(), a.value().get()) << "the same shape reuses the cached plan";
  EXPECT_NE(planner.planFor(quantizedCall(1000, strataQuantInt4, 100)).value().get(),
            a.value().get());
  EXPECT_NE(planner.planFor(quantizedCall(1000, strataQuantInt8, 128)).value().get(),
            a.value().get());
  EXPECT_NE(
      planner.planFor(quantizedCall(1000, strataQuantInt8, 100, QuantMode::kRaw)).value().get(),
      a.value().get());

  // One phase: quantise, dequantise our own part, then per peer scales before values, and
  // per peer a receive of its scales and a dequantising receive of its values.
  const Plan& p = *a.value();
  ASSERT_EQ(p.phases.size(), 1u);
  int recvDequantize = 0, quantize = 0;
  for (const Op& op : p.phases[0].ops) {
    if (op.kind == OpKind::kRecvDequantize) {
      ++recvDequantize;
      EXPECT_EQ(op.bytes, 1000u);
      EXPECT_EQ(op.elems, 1000u);
      EXPECT_EQ(op.scales.slot, kScalesBuf);
      EXPECT_EQ(op.dst.slot, kRecvBuf);
    }
    if (op.kind == OpKind::kTransform && op.transform == TransformKind::kQuantize) ++quantize;
  }
  EXPECT_EQ(recvDequantize, 3);
  EXPECT_EQ(quantize, 1);
  EXPECT_EQ(p.scalesBytes, 4u * 10 * 4) << "every rank's 10 scales";
  EXPECT_EQ(p.scratchBytes, 1000u) << "only our own int8 values";
}

// The mesh's own plan (whichever candidate the model prefers at this size): on a transport
// that streams, it quantises in pieces so that sending one overlaps quantising the next.
TEST(QuantizedPlans, StreamingTransportsQuantiseInPieces) {
  CommShape s;
  s.nranks = 2;
  ASSERT_TRUE(s.forwarding);
  const Algorithm* mesh = findAlgorithm(CollType::kAllGatherQuantized, "mesh");
  ASSERT_NE(mesh, nullptr);
  auto plans = plansForEveryRank(*mesh, quantizedCall((1u << 20) + 3, strataQuantInt4, 7), s);
  ASSERT_TRUE(plans.isOk()) << plans.status().message();
  std::vector<size_t> pieces;
  for (const Op& op : plans.value()[0]->phases[0].ops)
    if (op.kind == OpKind::kTransform && op.transform == TransformKind::kQuantize)
      pieces.push_back(op.elems);
  ASSERT_GT(pieces.size(), 1u);
  size_t elems = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    elems += pieces[i];
    if (i + 1 < pieces.size()) {
      EXPECT_EQ(pieces[i] % 14, 0u) << "pieces hold whole blocks of 7 and an even count for int4";
    }
  }
  EXPECT_EQ(elems, (1u << 20) + 3);
}

}  // namespace
}  // namespace strata
